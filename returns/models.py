from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.urls import reverse
from django.utils import timezone

from billing import ledger
from oms.search import key_field
from oms.tenancy import TenantOwned, TenantQuerySet

MONEY = {"max_digits": 12, "decimal_places": 2}


class _Configurable(TenantOwned):
    """A retailer's own list entry: a code the API speaks, a label people read."""

    code = models.CharField(max_length=50)
    label = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class ReturnAction(_Configurable):
    """What should happen with a returned item, and when."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"
        EXCHANGE = "exchange", "Exchange"
        STORE_CREDIT = "store_credit", "Store credit"
        CREDIT_NOTE = "credit_note", "Credit note"
        REJECT = "reject", "Reject"

    class Timing(models.TextChoices):
        ON_APPROVAL = "on_approval", "On approval"
        ON_RECEIPT = "on_receipt", "On receipt"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REFUND)
    timing = models.CharField(max_length=16, choices=Timing.choices, default=Timing.ON_RECEIPT)

    class Meta(_Configurable.Meta):
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="returnaction_unique_code"),
        ]

    @property
    def refunds(self) -> bool:
        """Whether this action gives the customer money back."""
        return self.kind in (self.Kind.REFUND, self.Kind.CREDIT_NOTE)


class ReturnReason(_Configurable):
    default_action = models.ForeignKey(
        ReturnAction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(_Configurable.Meta):
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="returnreason_unique_code"),
        ]


class ReturnCondition(_Configurable):
    restockable = models.BooleanField(default=True)

    class Meta(_Configurable.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "code"], name="returncondition_unique_code"
            ),
        ]


class ReturnType(models.TextChoices):
    CUSTOMER_RETURN = "CUSTOMER_RETURN", "Customer return"
    CANNOT_FULFIL = "CANNOT_FULFIL", "Cannot fulfil"
    CANCELLATION = "CANCELLATION", "Cancellation"


class ReturnStatus(models.TextChoices):
    CREATED = "CREATED", "Created"
    BOOKED = "BOOKED", "Booked"
    LODGED = "LODGED", "Lodged (refund under way)"
    PENDING_REFUND = "PENDING_REFUND", "Pending refund"
    COMPLETE = "COMPLETE", "Complete"


# How a return moves. LODGED: the refund runs through the gateway by itself; PENDING_REFUND: a
# manager releases it (several tenders, no integrated gateway, or the gateway declined).
RETURN_TRANSITIONS: dict[str, frozenset[str]] = {
    ReturnStatus.CREATED: frozenset(
        {
            ReturnStatus.BOOKED,
            ReturnStatus.LODGED,
            ReturnStatus.PENDING_REFUND,
            ReturnStatus.COMPLETE,
        }
    ),
    ReturnStatus.BOOKED: frozenset(
        {ReturnStatus.LODGED, ReturnStatus.PENDING_REFUND, ReturnStatus.COMPLETE}
    ),
    ReturnStatus.LODGED: frozenset({ReturnStatus.PENDING_REFUND, ReturnStatus.COMPLETE}),
    ReturnStatus.PENDING_REFUND: frozenset({ReturnStatus.LODGED, ReturnStatus.COMPLETE}),
    ReturnStatus.COMPLETE: frozenset(),
}


class TaxType(models.TextChoices):
    GST = "GST", "GST"
    VAT = "VAT", "VAT"
    EXCLTAX = "EXCLTAX", "Excluding tax"


class FulfilmentType(models.TextChoices):
    R_RTDC = "R_RTDC", "Return to distribution centre"
    R_RTS = "R_RTS", "Return to store"


def _new_ref() -> str:
    return str(uuid.uuid4())


class AttributeType(models.TextChoices):
    """The kinds of value a return's custom attribute holds (kept as text)."""

    STRING = "STRING", "Text"
    INTEGER = "INTEGER", "Whole number"
    FLOAT = "FLOAT", "Number"
    BOOLEAN = "BOOLEAN", "Yes or no"


# a return's custom attributes: how many, and how long a name and a value may be
ATTRIBUTES_MAX = 50
ATTRIBUTE_NAME_MAX = 64
ATTRIBUTE_VALUE_MAX = 500


class ReturnSequence(TenantOwned):
    """The next number of the returns a retailer's staff make (`ACM-R00001`): never reused.

    Apart from the document numbers of billing so that making a return, which may issue a
    credit note in the same transaction, takes its number first (see `oms.locking`)."""

    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["retailer"], name="returnsequence_one_per_retailer"),
        ]

    def __str__(self) -> str:
        return f"Return #{self.next_number} of retailer {self.retailer_id}"


class ReturnQuerySet(TenantQuerySet):
    def with_list_columns(self) -> ReturnQuerySet:
        return self.select_related("retailer", "order")


class Return(TenantOwned):
    """A customer's request to send items back, or a refund of items that could not be
    fulfilled or were cancelled. Field for field what the Returns API v4.1 exchanges."""

    return_ref = models.CharField(max_length=100, default=_new_ref)
    return_ref_key = key_field("return_ref")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    type = models.CharField(max_length=20, choices=ReturnType.choices)
    status = models.CharField(
        max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.CREATED
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_ref = models.CharField(max_length=64, blank=True)
    customer_email = models.EmailField()
    customer_first_name = models.CharField(max_length=100, blank=True)
    customer_last_name = models.CharField(max_length=100, blank=True)
    customer_mobile = models.CharField(max_length=32, blank=True)
    fulfilment_choice = models.JSONField(
        null=True,
        blank=True,
        help_text="preferredLocationRef, fulfilmentType, fulfilmentPrice, fulfilmentTaxPrice, "
        "currency and address, as the API sends them",
    )
    action = models.ForeignKey(
        ReturnAction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    total_return_price = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        help_text="What the return is worth: its items at the price paid, and the shipping it "
        "gives back.",
    )
    shipping_amount = models.DecimalField(
        **MONEY, default=Decimal("0.00"), help_text="The order's shipping this return gives back."
    )
    currency = models.CharField(max_length=3, blank=True)
    custom_attributes = models.JSONField(
        default=list,
        blank=True,
        help_text="[{name, type, value}], as the Returns API exchanges them "
        "(`returns.services.return_attribute_set`)",
    )
    credit_note = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refunded_by_hand = models.BooleanField(
        default=False, help_text="A manager released its refund by hand."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ReturnQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "return_ref"], name="return_unique_ref"),
        ]
        indexes = [
            models.Index(fields=["retailer", "-created_at", "-id"], name="return_recent"),
            models.Index(
                fields=["retailer", "return_ref_key"],
                name="return_ref_key",
                opclasses=["int8_ops", "text_pattern_ops"],
            ),
            models.Index(fields=["retailer", "order"], name="return_by_order"),
        ]

    def __str__(self) -> str:
        return self.return_ref

    def get_absolute_url(self) -> str:
        return reverse("returns:return_detail", kwargs={"pk": self.pk})

    @property
    def customer_name(self) -> str:
        return f"{self.customer_first_name} {self.customer_last_name}".strip()

    @property
    def preferred_location_ref(self) -> str | None:
        return (self.fulfilment_choice or {}).get("preferredLocationRef")

    @property
    def is_complete(self) -> bool:
        return self.status == ReturnStatus.COMPLETE

    @property
    def attributes(self) -> list[dict[str, str]]:
        """Its custom attributes as `{name, type, value}` texts, in the order they were set (a
        record kept as a {name: value} mapping reads as texts)."""
        kept = self.custom_attributes or []
        if isinstance(kept, dict):
            kept = [{"name": k, "type": AttributeType.STRING, "value": v} for k, v in kept.items()]
        return [
            {
                "name": str(entry.get("name", "")),
                "type": str(entry.get("type") or AttributeType.STRING),
                "value": "" if entry.get("value") is None else str(entry.get("value")),
            }
            for entry in kept
            if isinstance(entry, dict)
        ]

    @property
    def refunded_by_hand_amount(self) -> Decimal:
        """What managers gave back by hand for this return, as billing's ledger has it."""
        return ledger.refunds_of_return(self)[1]


class ReturnItem(TenantOwned):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="items")
    order_line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku_id = models.CharField(max_length=64, blank=True)
    sku_ref = models.CharField(max_length=100)
    sku_price = models.DecimalField(**MONEY, null=True, blank=True, help_text="Excluding tax")
    sku_tax_price = models.DecimalField(**MONEY, null=True, blank=True)
    tax_type = models.CharField(max_length=8, choices=TaxType.choices, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    amount = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        help_text="What its units are worth: their share of the order line at the price paid.",
    )
    reason_text = models.CharField("return reason", max_length=100, blank=True)
    condition_text = models.CharField("return condition", max_length=100, blank=True)
    reason = models.ForeignKey(
        ReturnReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    condition = models.ForeignKey(
        ReturnCondition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.ForeignKey(
        ReturnAction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["return_request_id", "pk"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku_ref}"

    @property
    def refund_amount(self) -> Decimal:
        return self.amount


class ReturnFulfilment(TenantOwned):
    """The parcel of a return, on its way from the customer to a store or warehouse."""

    class Status(models.TextChoices):
        CREATED = "CREATED", "Created"
        ARRIVED = "ARRIVED", "Arrived"
        COMPLETE = "COMPLETE", "Complete"

    TRANSITIONS = {
        Status.CREATED: frozenset({Status.ARRIVED}),
        Status.ARRIVED: frozenset({Status.COMPLETE}),
        Status.COMPLETE: frozenset(),
    }

    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="fulfilments")
    ref = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=8, choices=FulfilmentType.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    from_location = models.CharField(max_length=200, blank=True)
    to_location = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    arrived_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["return_request_id", "pk"]

    def __str__(self) -> str:
        return self.ref or f"Return fulfilment {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse(
            "returns:fulfilment_detail", kwargs={"pk": self.return_request_id, "fid": self.pk}
        )
