from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.urls import reverse
from django.utils import timezone

from billing.models import AWAITING_PAYMENT, PaymentStatus, PaymentTransaction
from fulfilments.models import HANDED_OVER, FulfilmentItem
from oms.search import key_field, search_key
from oms.tenancy import TenantOwned, TenantQuerySet
from returns.models import ReturnItem, ReturnType

MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0.00")}


class SystemState(models.TextChoices):
    """The fixed states every retailer's own order statuses map onto."""

    NEW = "NEW", "New"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"
    FRAUD = "FRAUD", "Fraud"
    SUSPENDED = "SUSPENDED", "Suspended"


OPEN_STATES = frozenset(
    {SystemState.NEW, SystemState.PROCESSING, SystemState.FRAUD, SystemState.SUSPENDED}
)

# The order lifecycle on system states. SUSPENDED goes back to the state it was suspended from
# (see Order.available_states), or to CANCELLED. COMPLETED and CANCELLED are final; returns may
# still follow a completed order.
TRANSITIONS: dict[str, frozenset[str]] = {
    SystemState.NEW: frozenset(
        {SystemState.PROCESSING, SystemState.CANCELLED, SystemState.FRAUD, SystemState.SUSPENDED}
    ),
    SystemState.PROCESSING: frozenset(
        {SystemState.COMPLETED, SystemState.CANCELLED, SystemState.SUSPENDED}
    ),
    SystemState.FRAUD: frozenset({SystemState.CANCELLED, SystemState.SUSPENDED}),
    SystemState.SUSPENDED: frozenset({SystemState.CANCELLED}),
    SystemState.COMPLETED: frozenset(),
    SystemState.CANCELLED: frozenset(),
}
# While an order is in one of these, its items' shipments can still be changed.
SHIPPABLE_STATES = frozenset({SystemState.NEW, SystemState.PROCESSING})
# What an order's rules read, joined when it is locked.
ORDER_CHECKS = ("status", "suspended_from", "retailer", "customer")


class StatusColour(models.TextChoices):
    """A fixed palette, so status badges are styled by class under a strict CSP."""

    BLUE = "blue", "Blue"
    INDIGO = "indigo", "Indigo"
    PURPLE = "purple", "Purple"
    PINK = "pink", "Pink"
    RED = "red", "Red"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    TEAL = "teal", "Teal"
    GREY = "grey", "Grey"


# The statuses every retailer starts with: (code, label, colour, system state).
DEFAULT_STATUSES = [
    ("new", "New", StatusColour.BLUE, SystemState.NEW),
    ("processing", "Processing", StatusColour.ORANGE, SystemState.PROCESSING),
    ("completed", "Completed", StatusColour.GREEN, SystemState.COMPLETED),
    ("cancelled", "Cancelled", StatusColour.GREY, SystemState.CANCELLED),
    ("fraud", "Fraud", StatusColour.RED, SystemState.FRAUD),
    ("suspended", "Suspended", StatusColour.PURPLE, SystemState.SUSPENDED),
]


class OrderStatus(TenantOwned):
    """A retailer's own name for a stage of an order, mapped onto one system state."""

    code = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    colour = models.CharField(max_length=16, choices=StatusColour.choices, default="blue")
    position = models.PositiveSmallIntegerField(default=0)
    system_state = models.CharField(max_length=16, choices=SystemState.choices)

    class Meta:
        ordering = ["retailer_id", "position", "pk"]
        verbose_name_plural = "order statuses"
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="orderstatus_unique_code"),
        ]

    def __str__(self) -> str:
        return self.label


class Channel(models.TextChoices):
    WEB = "web", "Web shop"
    APP = "app", "Mobile app"
    STORE = "store", "Store"
    MARKETPLACE = "marketplace", "Marketplace"
    PHONE = "phone", "Phone"


class OrderType(models.TextChoices):
    HOME_DELIVERY = "HD", "Home delivery"
    CLICK_AND_COLLECT = "CC", "Click and collect"


# the most orders a search of other records by their order's ref looks at
REF_SEARCH_LIMIT = 1000


class OrderQuerySet(TenantQuerySet):
    def ids_by_ref(self, text: str, *, exact: bool = False, limit: int = REF_SEARCH_LIMIT):
        """Ids of the orders whose ref starts with (or is) `text`, case-insensitively.

        Searches of other records by their order's ref look the orders up first with this, on
        the ref index, rather than joining orders into an OR that no index can serve.
        """
        lookup = "ref_key" if exact else "ref_key__key_prefix"
        return list(self.filter(**{lookup: search_key(text)}).values_list("pk", flat=True)[:limit])

    def with_list_columns(self) -> OrderQuerySet:
        """What a row of the orders list shows, joined in one query."""
        return self.select_related(
            "retailer", "customer", "status", "hold_documentation_rule", "hold_compliance_rule"
        )

    def open(self) -> OrderQuerySet:
        """Orders not yet completed or cancelled."""
        return self.filter(status__system_state__in=OPEN_STATES)

    def on_hold(self) -> OrderQuerySet:
        """Orders held by a flag, or suspended."""
        return self.filter(
            Q(hold_documentation=True)
            | Q(hold_compliance=True)
            | Q(status__system_state=SystemState.SUSPENDED)
        )

    def awaiting_payment(self) -> OrderQuerySet:
        """Open orders not yet paid in full."""
        return self.open().filter(payment_status__in=AWAITING_PAYMENT)

    def payment_failed(self) -> OrderQuerySet:
        """Orders with a capture, refund or release that failed and was not tried again since:
        the money did not move, and a manager has to retry it or settle it another way."""
        failed = PaymentTransaction.objects.filter(
            status=PaymentTransaction.Status.FAILED, retailer_id=OuterRef("retailer_id")
        ).exclude(kind=PaymentTransaction.Kind.AUTHORISE)
        later = PaymentTransaction.objects.filter(
            payment_id=OuterRef("payment_id"), kind=OuterRef("kind"), pk__gt=OuterRef("pk")
        )
        unresolved = failed.filter(~Exists(later), order_id=OuterRef("pk"))
        return self.filter(Exists(unresolved))

    def unanswered(self) -> OrderQuerySet:
        """Orders with a ticket waiting for the retailer's answer."""
        return self.filter(
            Exists(
                Ticket.objects.filter(
                    order_id=OuterRef("pk"),
                    retailer_id=OuterRef("retailer_id"),
                    status=Ticket.Status.OPEN,
                )
            )
        )


class Order(TenantOwned):
    ref = models.CharField("order ref", max_length=64)
    ref_key = key_field("ref")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    type = models.CharField(
        max_length=2, choices=OrderType.choices, default=OrderType.HOME_DELIVERY
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    status = models.ForeignKey(OrderStatus, on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code")
    subtotal = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    item_count = models.PositiveIntegerField(default=0, help_text="Units over all lines.")
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.NOT_PAID
    )
    billing_address = models.ForeignKey(
        "customers.Address", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    shipping_address = models.ForeignKey(
        "customers.Address", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    delivery_method = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    # when its first parcel left (set by `order_mark_sent`, with the shipment): "not shipped yet"
    # is read here, so the at-risk count is answered from an index alone
    shipped_at = models.DateTimeField(null=True, blank=True)
    collection_location = models.CharField(
        max_length=200, blank=True, help_text="The store a click-and-collect order waits at."
    )
    invoice_number = models.CharField(max_length=64, blank=True)
    suspended_from = models.ForeignKey(
        OrderStatus,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The status a suspended order resumes to.",
    )
    hold_documentation = models.BooleanField(
        "held: missing documentation", default=False, db_default=False
    )
    hold_compliance = models.BooleanField("held: compliance", default=False, db_default=False)
    # which of the retailer's hold rules held the order when it was placed (none: by hand), and
    # why, in words, as it stood then
    hold_documentation_rule = models.ForeignKey(
        "HoldRule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hold_documentation_why = models.CharField(max_length=300, blank=True, db_default="")
    hold_compliance_rule = models.ForeignKey(
        "HoldRule", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hold_compliance_why = models.CharField(max_length=300, blank=True, db_default="")
    vat_number = models.CharField(
        "VAT number",
        max_length=32,
        blank=True,
        db_default="",
        help_text="The buyer's VAT number, on a business order.",
    )
    placed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "ref"], name="order_unique_ref"),
        ]
        indexes = [
            # the list's default order and each status filter, ids included for index-only
            # scans of deep pages (see oms.pagination)
            models.Index(fields=["retailer", "-placed_at", "-id"], name="order_recent"),
            models.Index(
                fields=["retailer", "status", "-placed_at", "-id"], name="order_by_status"
            ),
            models.Index(fields=["retailer", "customer", "-placed_at"], name="order_by_customer"),
            # ref searches, exact or by prefix (oms.search)
            models.Index(
                fields=["retailer", "ref_key"],
                name="order_ref_key",
                opclasses=["int8_ops", "text_pattern_ops"],
            ),
            # the home page's queues: held orders are few; awaiting payment, a minority
            models.Index(
                fields=["retailer"],
                condition=Q(hold_documentation=True) | Q(hold_compliance=True),
                name="order_held",
            ),
            models.Index(fields=["retailer", "payment_status"], name="order_by_payment_status"),
            # the home page's counts of open orders (by status, awaiting payment, at risk), read
            # from the index alone: open orders are few, found status by status, and every
            # column those counts test is here (see orders.queues)
            models.Index(
                fields=[
                    "retailer",
                    "status",
                    "payment_status",
                    "promised_date",
                    "carrier",
                    "id",
                    "shipped_at",
                ],
                name="order_open_work",
            ),
            # the latest orders shipped, for the home page's time to ship
            models.Index(
                fields=["retailer", "-shipped_at", "placed_at"],
                condition=Q(shipped_at__isnull=False),
                name="order_recently_shipped",
            ),
        ]

    def __str__(self) -> str:
        return self.ref

    def get_absolute_url(self) -> str:
        return reverse("orders:order_detail", kwargs={"pk": self.pk})

    @property
    def system_state(self) -> str:
        return self.status.system_state

    @property
    def is_paid(self) -> bool:
        return self.payment_status in (
            PaymentStatus.PAID,
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentStatus.REFUNDED,
        )

    @property
    def is_held(self) -> bool:
        return self.hold_documentation or self.hold_compliance

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self.status.system_state]

    @property
    def can_change_shipments(self) -> bool:
        return self.status.system_state in SHIPPABLE_STATES

    def transitions(self) -> dict[str, frozenset[str]]:
        """TRANSITIONS for this order: a suspended order may also go back where it was."""
        if self.status.system_state != SystemState.SUSPENDED or self.suspended_from is None:
            return TRANSITIONS
        back = self.suspended_from.system_state
        return TRANSITIONS | {SystemState.SUSPENDED: TRANSITIONS[SystemState.SUSPENDED] | {back}}

    def available_states(self) -> frozenset[str]:
        """The system states this order may move to now."""
        return self.transitions()[self.status.system_state]

    @cached_property
    def line_units(self) -> dict[int, Units]:
        """Its lines' units (`OrderLineQuerySet.units`), read once for this instance; a list of
        orders may fill it for all of them at once."""
        return self.lines.units()

    @property
    def hold_reasons(self) -> list[str]:
        """The kinds of hold set, in words (`holds` adds the rule behind each)."""
        return [
            kind.label
            for kind, held in (
                (HoldRule.Kind.DOCUMENTATION, self.hold_documentation),
                (HoldRule.Kind.COMPLIANCE, self.hold_compliance),
            )
            if held
        ]

    @property
    def holds(self) -> list[Hold]:
        """Each hold flag set, with the rule that set it (none: a manager did) and why."""
        held = []
        if self.hold_documentation:
            held.append(
                Hold(
                    HoldRule.Kind.DOCUMENTATION.label,
                    self.hold_documentation_rule,
                    self.hold_documentation_why,
                )
            )
        if self.hold_compliance:
            held.append(
                Hold(
                    HoldRule.Kind.COMPLIANCE.label,
                    self.hold_compliance_rule,
                    self.hold_compliance_why,
                )
            )
        return held


@dataclass(frozen=True)
class Hold:
    """A hold flag of an order as a person reads it."""

    label: str
    rule: HoldRule | None
    why: str

    def __str__(self) -> str:
        if self.rule is None:
            return self.label
        return f"{self.label}, by rule “{self.rule.name}”"


class HoldRule(TenantOwned):
    """A retailer's rule that holds an order when it is placed: one of a fixed set of
    conditions, with bounded parameters (`orders.services.holds` evaluates them)."""

    class Kind(models.TextChoices):
        COMPLIANCE = "compliance", "Compliance"
        DOCUMENTATION = "documentation", "Missing documentation"

    class Condition(models.TextChoices):
        NEW_CUSTOMER_OVER = "new_customer_over", "Total above an amount, from a new customer"
        TOTAL_OVER = "total_over", "Total above an amount"
        BUSINESS_WITHOUT_VAT = "business_without_vat", "Business order without a VAT number"
        SHIPS_OUTSIDE = "ships_outside", "Delivery outside the countries listed"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMPLIANCE)
    condition = models.CharField(max_length=24, choices=Condition.choices)
    amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The total an order must go above (in the retailer's currency).",
    )
    countries = models.JSONField(
        default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes an order may ship to."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["retailer_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "name"], name="holdrule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def flag(self) -> str:
        """The order's field this rule sets."""
        return f"hold_{self.kind}"


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PICKED = "picked", "Picked"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"


@dataclass(frozen=True)
class Units:
    """How a line's units stand. Every unit ordered is open, shipped or cancelled; a shipped
    unit may come back on a customer return."""

    ordered: int
    shipped: int = 0
    cancelled: int = 0
    returned: int = 0

    @property
    def open(self) -> int:
        """Units still to ship: neither shipped nor cancelled."""
        return self.ordered - self.shipped - self.cancelled

    @property
    def returnable(self) -> int:
        """Units a customer may still send back: shipped and not yet on a return."""
        return self.shipped - self.returned

    @property
    def least_quantity(self) -> int:
        """What a corrected quantity cannot go below: every unit shipped or cancelled (and at
        least one)."""
        return max(1, self.shipped + self.cancelled)


class OrderLineQuerySet(TenantQuerySet):
    def units(self) -> dict[int, Units]:
        """Each line's units, by line id: the one count of what is ordered, shipped (handed over
        in a fulfilment), cancelled, returned (on a customer return) and so still open."""
        rows = list(self.order_by().values_list("pk", "quantity", "cancelled"))
        ids = [pk for pk, _, _ in rows]
        shipped = dict(
            FulfilmentItem.objects.filter(order_line_id__in=ids, fulfilment__status__in=HANDED_OVER)
            .order_by()
            .values_list("order_line_id")
            .annotate(n=Sum("filled"))
        )
        returned = dict(
            ReturnItem.objects.filter(
                order_line_id__in=ids, return_request__type=ReturnType.CUSTOMER_RETURN
            )
            .order_by()
            .values_list("order_line_id")
            .annotate(n=Sum("quantity"))
        )
        return {
            pk: Units(quantity, shipped.get(pk, 0), cancelled, returned.get(pk, 0))
            for pk, quantity, cancelled in rows
        }


class OrderLine(TenantOwned):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    sku = models.CharField("SKU ref", max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    cancelled = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Units cancelled: they will not ship."
    )
    shipment_status = models.CharField(
        max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    shipping_method = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_key = key_field("tracking_number")

    objects = OrderLineQuerySet.as_manager()

    class Meta:
        ordering = ["order_id", "position", "pk"]
        indexes = [
            models.Index(fields=["retailer", "tracking_key"], name="line_tracking_key"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(cancelled__lte=F("quantity")), name="line_cancelled_lte_quantity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class Shipment(TenantOwned):
    class Status(models.TextChoices):
        LABEL_CREATED = "label_created", "Label created"
        IN_TRANSIT = "in_transit", "In transit"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Delivery exception"
        RETURNED = "returned", "Returned to sender"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=100)
    service = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_key = key_field("tracking_number")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.LABEL_CREATED)
    estimated_delivery = models.DateField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "created_at", "pk"]
        indexes = [
            models.Index(fields=["retailer", "tracking_key"], name="shipment_tracking_key"),
            # the latest shipments (how long orders take to ship, on the home page)
            models.Index(fields=["retailer", "-shipped_at"], name="shipment_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class ShipmentEvent(TenantOwned):
    """One entry of a shipment's carrier log."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Shipment.Status.choices)
    description = models.CharField(max_length=255)
    location = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["shipment_id", "-occurred_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.description}"


class Comment(TenantOwned):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "-created_at", "-pk"]

    def __str__(self) -> str:
        return self.body[:50]


class Memo(TenantOwned):
    """A short note pinned on top of the order, for oneself or a colleague."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="memos")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "-created_at", "-pk"]

    def __str__(self) -> str:
        return self.body[:50]


class Task(TenantOwned):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_tasks",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(max_length=500)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "status", "due_at", "pk"]
        indexes = [
            models.Index(fields=["retailer", "assignee", "status"], name="task_by_assignee"),
        ]

    def __str__(self) -> str:
        return self.description[:50]

    @property
    def is_overdue(self) -> bool:
        return (
            self.status != self.Status.DONE
            and self.due_at is not None
            and (self.due_at < timezone.now())
        )


class Ticket(TenantOwned):
    """A customer's question about an order, and the conversation that answers it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "-updated_at", "-pk"]
        indexes = [models.Index(fields=["retailer", "status", "-updated_at"], name="ticket_queue")]

    def __str__(self) -> str:
        return self.subject


class TicketMessage(TenantOwned):
    class Sender(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=16, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ticket_id", "created_at", "pk"]

    def __str__(self) -> str:
        return self.body[:50]


class BulkJob(TenantOwned):
    """One action run on many orders in the background, with a result per order
    (`orders.services.bulk`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    output = models.BinaryField(null=True, blank=True, help_text="The PDF or CSV it made")
    output_name = models.CharField(max_length=200, blank=True)
    output_type = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="bulkjob_by_status")]

    def __str__(self) -> str:
        return f"Bulk {self.action} #{self.pk}"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    def get_absolute_url(self) -> str:
        return reverse("orders:bulk_job", kwargs={"pk": self.pk})


class BulkJobItem(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SUCCEEDED = "succeeded", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["job", "order"], name="bulkjobitem_unique_order"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.order_id}: {self.status}"


# intake's models live in orders/intake/ and belong to this app
from orders.intake.models import IntakeChannel, IntakeMessage  # noqa: E402, F401
