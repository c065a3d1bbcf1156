from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from oms.tenancy import TenantOwned


def _secret() -> str:
    return secrets.token_hex(24)


class IntakeChannel(TenantOwned):
    """A way orders reach a retailer: its web store, a marketplace, the tills, a batch file."""

    class Kind(models.TextChoices):
        WEBSTORE = "webstore", "Web store (JSON)"
        MARKETPLACE = "marketplace", "Marketplace"
        BATCH = "batch", "Batch import"
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"

    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    secret = models.CharField(max_length=100, default=_secret)
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text="require_phone, require_known_sku, total_tolerance: relax or tighten checks",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "code"], name="intakechannel_unique_code"),
        ]

    def __str__(self) -> str:
        return self.name

    def rule(self, name: str, default):
        return self.rules.get(name, default)


class IntakeMessage(TenantOwned):
    """One message as a channel sent it, kept before anything else happens to it."""

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        ACCEPTED = "ACCEPTED", "Accepted"
        REJECTED = "REJECTED", "Rejected"
        DEAD = "DEAD", "Dead"
        DISCARDED = "DISCARDED", "Discarded"
        DUPLICATE = "DUPLICATE", "Duplicate"  # the same body as a message already accepted
        STALE = "STALE", "Stale"  # sent before the last message applied to the same order
        # an order the platform sent before it was paid for, or a cancel of one never taken
        NOT_TAKEN = "NOT_TAKEN", "Not taken"

    channel = models.ForeignKey(IntakeChannel, on_delete=models.PROTECT, related_name="messages")
    body = models.TextField(help_text="The raw message, exactly as received")
    external_id = models.CharField(max_length=100, blank=True)
    event = models.CharField(max_length=16, blank=True, help_text="create, update or cancel")
    topic = models.CharField(
        max_length=64,
        blank=True,
        help_text="The platform's name for the event, from its header (orders/updated)",
    )
    delivery_id = models.CharField(
        max_length=100,
        blank=True,
        help_text="The platform's id of this delivery: a retried delivery carries the same one",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    reasons = models.JSONField(default=list, blank=True)
    body_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the body: identical deliveries share it"
    )
    sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the channel sent this version of the order (its own stamp)",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The order total, to put the costliest failures first",
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["retailer", "status", "-received_at"], name="intake_by_status"),
            models.Index(fields=["channel", "external_id"], name="intake_by_external_id"),
            models.Index(fields=["channel", "body_hash"], name="intake_by_body_hash"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "delivery_id"],
                condition=~models.Q(delivery_id=""),
                name="intakemessage_unique_delivery",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.external_id or self.pk}"
