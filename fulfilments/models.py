from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from oms.search import key_field
from oms.tenancy import TenantOwned, TenantQuerySet


class Location(TenantOwned):
    """A place stock is held and orders ship from: a warehouse, a store, a distribution centre."""

    class Type(models.TextChoices):
        WAREHOUSE = "warehouse", "Warehouse"
        STORE = "store", "Store"
        DISTRIBUTION_CENTRE = "dc", "Distribution centre"

    ref = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.WAREHOUSE)
    line1 = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)
    zones = models.JSONField(default=list, help_text="Countries (ISO codes) it ships to")
    daily_capacity = models.PositiveIntegerField(default=100, help_text="Fulfilments a day")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "ref"], name="location_unique_ref"),
        ]

    def __str__(self) -> str:
        return self.name


class Carrier(TenantOwned):
    name = models.CharField(max_length=100)
    zones = models.JSONField(default=list, help_text="Countries (ISO codes) it delivers to")
    is_available = models.BooleanField(default=True)
    transit_days = models.PositiveSmallIntegerField(
        default=2,
        db_default=2,
        help_text="Days from handing a parcel over to delivering it (orders.risk uses it).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StockPosition(TenantOwned):
    """How many of a SKU a location holds, how many are promised to orders, and how many it
    keeps back (the safety threshold) before it offers the rest."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="stock")
    sku = models.CharField(max_length=64)
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    safety_threshold = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["location_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "location", "sku"], name="stock_unique"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0) & Q(reserved__lte=F("on_hand")),
                name="stock_reserved_within_on_hand",
            ),
        ]
        indexes = [models.Index(fields=["retailer", "sku"], name="stock_by_sku")]

    def __str__(self) -> str:
        return f"{self.sku} at {self.location_id}: {self.on_hand} on hand"

    @property
    def available(self) -> int:
        """What can still be promised: on hand, less reserved, less the safety threshold."""
        return max(0, self.on_hand - self.reserved - self.safety_threshold)

    @property
    def below_threshold(self) -> bool:
        return self.on_hand - self.reserved < self.safety_threshold


class FulfilmentStatus(models.TextChoices):
    CREATED = "CREATED", "Created"
    ASSIGNED = "ASSIGNED", "Assigned"
    PICKED = "PICKED", "Picked"
    PACKED = "PACKED", "Packed"
    SHIPPED = "SHIPPED", "Shipped"
    READY_FOR_COLLECTION = "READY_FOR_COLLECTION", "Ready for collection"
    DELIVERED = "DELIVERED", "Delivered"
    COLLECTED = "COLLECTED", "Collected"
    ESCALATED = "ESCALATED", "Escalated"
    CANCELLED = "CANCELLED", "Cancelled"


S = FulfilmentStatus
FULFILMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.ASSIGNED, S.ESCALATED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.PICKED, S.ESCALATED, S.CANCELLED}),
    S.PICKED: frozenset({S.PACKED, S.CANCELLED}),
    S.PACKED: frozenset({S.SHIPPED, S.READY_FOR_COLLECTION, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.READY_FOR_COLLECTION: frozenset({S.COLLECTED, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.COLLECTED: frozenset(),
    S.ESCALATED: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}
OPEN_FULFILMENT_STATES = frozenset({S.CREATED, S.ASSIGNED, S.PICKED, S.PACKED})
# Its units have left the building: they count as shipped.
HANDED_OVER = frozenset({S.SHIPPED, S.DELIVERED, S.COLLECTED})
# Its units are promised at its location and still on the shelf: they count as reserved.
RESERVING = frozenset({S.CREATED, S.ASSIGNED})
# Its units are still the order's to ship: sourced and on their way out, or waiting for a place.
LIVE = frozenset({S.CREATED, S.ASSIGNED, S.PICKED, S.PACKED, S.READY_FOR_COLLECTION, S.ESCALATED})


class FulfilmentQuerySet(TenantQuerySet):
    def escalated(self) -> FulfilmentQuerySet:
        """Fulfilments waiting for a person to decide where they ship from."""
        return self.filter(status=S.ESCALATED)


class Fulfilment(TenantOwned):
    """One or more items of an order to pick, pack and deliver or have collected."""

    class Type(models.TextChoices):
        HOME_DELIVERY = "HD", "Home delivery"
        CLICK_AND_COLLECT = "CC", "Click and collect"

    ref = models.CharField(max_length=64)
    ref_key = key_field("ref")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="fulfilments")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="fulfilments"
    )
    type = models.CharField(max_length=2, choices=Type.choices, default=Type.HOME_DELIVERY)
    status = models.CharField(max_length=24, choices=S.choices, default=S.CREATED)
    escalation_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=dict, help_text="When it reached each status")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = FulfilmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "ref"], name="fulfilment_unique_ref"),
        ]
        indexes = [
            models.Index(fields=["retailer", "status", "escalated_at"], name="fulfilment_queue"),
            models.Index(fields=["retailer", "-created_at", "-id"], name="fulfilment_recent"),
            models.Index(
                fields=["retailer", "ref_key"],
                name="fulfilment_ref_key",
                opclasses=["int8_ops", "text_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    def get_absolute_url(self) -> str:
        return reverse("fulfilments:fulfilment_detail", kwargs={"pk": self.pk})

    def available_transitions(self) -> frozenset[str]:
        return FULFILMENT_TRANSITIONS[self.status]


class FulfilmentItem(TenantOwned):
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="items")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.CASCADE, related_name="fulfilment_items"
    )
    requested = models.PositiveIntegerField()
    filled = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["fulfilment_id", "pk"]

    def __str__(self) -> str:
        return f"{self.requested} × {self.order_line_id}"
