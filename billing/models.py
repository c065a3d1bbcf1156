from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from oms.tenancy import TenantOwned

MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0.00")}

# Languages invoices can be printed in (the templates are translated into these).
INVOICE_LANGUAGES = [("en", "English"), ("nl", "Nederlands")]


class BillingSettings(TenantOwned):
    """How a retailer invoices its orders."""

    class Trigger(models.TextChoices):
        PLACED = "placed", "When the order is placed"
        PAID = "paid", "When the order is paid"
        MANUAL = "manual", "Only by hand"

    invoice_trigger = models.CharField(max_length=16, choices=Trigger.choices, default="paid")
    invoice_prefix = models.CharField(max_length=20, default="INV-")
    credit_note_prefix = models.CharField(max_length=20, default="CN-")
    default_delivery_time = models.CharField(
        max_length=200, blank=True, default="Delivered within 1-3 working days"
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
        from django.urls import reverse

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
