from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from oms.templatetags.money import format_money
from oms.tenancy import TenantOwned

MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0.00")}

# Languages invoices can be printed in (the templates are translated into these).
INVOICE_LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch")]


class PaymentStatus(models.TextChoices):
    NOT_PAID = "not_paid", "Not paid"
    AUTHORISED = "authorised", "Authorised"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


AWAITING_PAYMENT = frozenset(
    {PaymentStatus.NOT_PAID, PaymentStatus.AUTHORISED, PaymentStatus.PARTIALLY_PAID}
)


class BillingSettings(TenantOwned):
    """How a retailer invoices its orders."""

    class Trigger(models.TextChoices):
        PLACED = "placed", "When the order is placed"
        PAID = "paid", "When the order is paid"
        MANUAL = "manual", "Only by hand"

    class ReturnShipping(models.TextChoices):
        NEVER = "never", "Never"
        WHOLE_ORDER = "whole_order", "When everything that shipped comes back"
        ALWAYS = "always", "With every return"

    invoice_trigger = models.CharField(max_length=16, choices=Trigger.choices, default="paid")
    invoice_prefix = models.CharField(max_length=20, default="INV-")
    credit_note_prefix = models.CharField(max_length=20, default="CN-")
    default_delivery_time = models.CharField(
        max_length=200, blank=True, default="Delivered within 1-3 working days"
    )
    return_shipping = models.CharField(
        "refund the shipping of a customer return",
        max_length=16,
        choices=ReturnShipping.choices,
        default=ReturnShipping.WHOLE_ORDER,
        db_default=ReturnShipping.WHOLE_ORDER,
    )

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.UniqueConstraint(fields=["retailer"], name="billingsettings_one_per_retailer"),
        ]

    def __str__(self) -> str:
        return f"Billing settings of retailer {self.retailer_id}"


class DocumentSequence(TenantOwned):
    """The next number of a retailer's invoices or credit notes: numbers are never reused."""

    kind = models.CharField(max_length=16)
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["retailer", "kind"], name="sequence_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.next_number}"


class Invoice(TenantOwned):
    """An invoice of an order, or a credit note against one of its invoices."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    class Status(models.TextChoices):
        NOT_PAID = "not_paid", "Not paid"
        PAID = "paid", "Paid"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INVOICE)
    number = models.CharField(max_length=40)
    sequence_number = models.PositiveIntegerField()
    credits = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        help_text="The invoice a credit note is against.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_PAID)
    language = models.CharField(max_length=8, choices=INVOICE_LANGUAGES, default="en")
    delivery_time = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    lines = models.JSONField(default=list, help_text="The invoiced items, as they were.")
    shipping = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    billing_name = models.CharField(max_length=200, blank=True)
    billing_address = models.JSONField(default=list)
    issued_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "issued_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "number"], name="invoice_unique_number"),
            models.UniqueConstraint(
                fields=["retailer", "kind", "sequence_number"], name="invoice_unique_sequence"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.Kind.CREDIT_NOTE

    @property
    def net(self) -> Decimal:
        return self.total - self.tax


class BillingAccount(TenantOwned):
    """The financial side of a customer: invoices, credit and debit memos, payments."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"
        CLOSED = "CLOSED", "Closed"

    class Type(models.TextChoices):
        CONSUMER = "CONSUMER", "Consumer"
        BUSINESS = "BUSINESS", "Business"

    TRANSITIONS = {
        Status.PENDING: frozenset({Status.ACTIVE, Status.CLOSED}),
        Status.ACTIVE: frozenset({Status.SUSPENDED, Status.CLOSED}),
        Status.SUSPENDED: frozenset({Status.ACTIVE, Status.CLOSED}),
        Status.CLOSED: frozenset(),
    }

    name = models.CharField(max_length=200)
    ref = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.CONSUMER)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="billing_accounts",
    )
    contact_email = models.EmailField(blank=True)
    erp_reference = models.CharField(max_length=100, blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "ref"], name="billingaccount_unique_ref"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("billing:account_detail", kwargs={"pk": self.pk})


class DebitMemo(TenantOwned):
    """An extra charge to a billing account (a late fee, a shipping correction)."""

    account = models.ForeignKey(
        BillingAccount, on_delete=models.PROTECT, related_name="debit_memos"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(max_length=40)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "number"], name="debitmemo_unique_number"),
        ]

    def __str__(self) -> str:
        return self.number


class Payment(TenantOwned):
    class Method(models.TextChoices):
        CARD = "card", "Card"
        IDEAL = "ideal", "iDEAL"
        PAYPAL = "paypal", "PayPal"
        KLARNA = "klarna", "Klarna (pay later)"
        GIFT_CARD = "gift_card", "Gift card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=20, choices=Method.choices)
    provider = models.CharField(max_length=50, default="simulated")
    provider_reference = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3)
    authorised = models.DecimalField(**MONEY)
    captured = models.DecimalField(**MONEY)
    refunded = models.DecimalField(**MONEY, help_text="Refunded through the gateway.")
    refunded_by_hand = models.DecimalField(
        **MONEY,
        help_text="Given back outside the gateway (a bank transfer, at the till): the gateway "
        "still holds it as captured, the customer has it.",
    )
    voided = models.DecimalField(
        **MONEY, help_text="Authorised but released: it can no longer be captured."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order_id", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(captured__lte=F("authorised") - F("voided")),
                name="payment_captured_lte_authorised",
            ),
            models.CheckConstraint(
                condition=Q(refunded__lte=F("captured") - F("refunded_by_hand")),
                name="payment_refunded_lte_captured",
            ),
            models.CheckConstraint(
                condition=Q(authorised__gte=0)
                & Q(captured__gte=0)
                & Q(refunded__gte=0)
                & Q(refunded_by_hand__gte=0)
                & Q(voided__gte=0),
                name="payment_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {format_money(self.authorised, self.currency)}"


class PaymentTransaction(TenantOwned):
    class Kind(models.TextChoices):
        AUTHORISE = "authorise", "Authorise"
        CAPTURE = "capture", "Capture"
        REFUND = "refund", "Refund"
        VOID = "void", "Void"
        MANUAL_REFUND = "manual_refund", "Refund by hand"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="transactions")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="transactions")
    return_request = models.ForeignKey(
        "returns.Return",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refunds",
        help_text="The return this refund pays out.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=100, blank=True, help_text="The gateway's reference")
    idempotency_key = models.CharField(max_length=100)
    message = models.TextField(blank=True)
    error_code = models.CharField(
        max_length=20, blank=True, help_text="declined, or unavailable when it may be retried"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "idempotency_key"], name="transaction_unique_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="transaction_amount_gte_0"),
        ]
        indexes = [
            # the failed operations queue (OrderQuerySet.payment_failed): few rows, found at once
            models.Index(
                fields=["retailer", "order"],
                condition=Q(status="failed"),
                name="transaction_failed",
            ),
            # operations still to be carried out (the relay, /metrics, /readyz): few, in order
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="transaction_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ({self.get_status_display()})"

    @property
    def can_retry(self) -> bool:
        return self.status == self.Status.FAILED and self.kind in GATEWAY_OPERATIONS

    @property
    def timed_out(self) -> bool:
        """Failed without an answer: the gateway may have done it; only asking again with the
        same key tells."""
        return self.status == self.Status.FAILED and self.error_code == "unavailable"


# The operations a worker carries out at the gateway (a refund by hand is recorded done).
GATEWAY_OPERATIONS = frozenset(
    {PaymentTransaction.Kind.CAPTURE, PaymentTransaction.Kind.REFUND, PaymentTransaction.Kind.VOID}
)


class SimulatedGatewayRecord(models.Model):
    """The built-in simulated payment gateway's own ledger (the provider's side, not ours).

    One row per money movement the gateway accepted, unique by idempotency key: asking again
    with the same key returns the same row and moves no money.
    """

    idempotency_key = models.CharField(max_length=100, unique=True)
    payment_reference = models.CharField(max_length=100)
    kind = models.CharField(max_length=16)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["payment_reference"], name="simgw_payment")]

    def __str__(self) -> str:
        return f"{self.kind} {format_money(self.amount, self.currency)} ({self.reference})"
