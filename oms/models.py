from __future__ import annotations

import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from oms import bounds
from oms.roles import Role, memberships_of
from oms.tenancy import TenantOwned


def _validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


def _default_languages() -> list[str]:
    return ["en"]


class User(AbstractUser):
    """A member of staff. What they may see and do comes from their memberships."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Retailer(models.Model):
    """The tenant: a retailer whose orders, returns and customers no other retailer sees."""

    ref = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[_validate_time_zone])
    languages = models.JSONField(default=_default_languages, help_text="ISO 639-1 codes")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    dates_from = models.DateField(
        default=bounds.DATES_FROM,
        help_text="The earliest date an order, return or payment of this retailer may carry",
    )
    dates_ahead_days = models.PositiveIntegerField(
        default=bounds.DATES_AHEAD_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(bounds.MOST_DAYS_AHEAD)],
        help_text="How many days ahead of today a date may lie (a promised date, a delivery)",
    )
    # the seller as invoices name it (header and footer); empty ones are left off
    legal_name = models.CharField(
        max_length=200, blank=True, default="", db_default="", help_text="Empty: the name"
    )
    street = models.CharField(max_length=200, blank=True, default="", db_default="")
    postcode = models.CharField(max_length=20, blank=True, default="", db_default="")
    city = models.CharField(max_length=100, blank=True, default="", db_default="")
    country = models.CharField(
        max_length=2, blank=True, default="", db_default="", help_text="ISO 3166-1 alpha-2"
    )
    vat_number = models.CharField(
        "VAT number", max_length=20, blank=True, default="", db_default=""
    )
    chamber_of_commerce = models.CharField(
        "chamber of commerce number", max_length=20, blank=True, default="", db_default=""
    )
    iban = models.CharField("IBAN", max_length=34, blank=True, default="", db_default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def seller_name(self) -> str:
        """The name invoices give the seller: the legal name, or else the trading name."""
        return self.legal_name or self.name

    @property
    def seller_address(self) -> list[str]:
        """Street and postcode with city, as on an envelope (the country is named apart, in
        the document's language); empty ones left out."""
        city_line = " ".join(part for part in (self.postcode, self.city) if part)
        return [part for part in (self.street, city_line) if part]


def retailers_of(user) -> list[Retailer]:
    """The user's active retailers by name, read with their roles once per request and kept on
    the user (`oms.roles.memberships_of`): the layout, the time zone, the list tools and the
    home page all ask."""
    return memberships_of(user)[1]


class Membership(models.Model):
    """A user's role in one retailer. A user may belong to several retailers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["retailer", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} of {self.retailer}"


class Activity(TenantOwned):
    """The one audit and history record: who did what, when, to which record.

    `target` is the record that changed; `root` is the record whose timeline shows the change
    (an order, for a comment on it), and is the target itself when the target stands alone.
    Written only by `oms.activity.record`.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the system did it.",
    )
    action = models.CharField(max_length=100, help_text="Dotted name: orders.order.cancelled")
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64)
    root_type = models.CharField(max_length=100)
    root_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["retailer", "root_type", "root_id", "-created_at"],
                name="activity_timeline",
            ),
            models.Index(fields=["retailer", "-created_at"], name="activity_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.target_type}#{self.target_id}"

    def save(self, *args, **kwargs) -> None:
        """Written once: an activity is never changed afterwards (nor can the application's
        database role change it, see `manage.py db_app_role`)."""
        if not self._state.adding:
            raise PermissionDenied("An activity record is permanent: it cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("An activity record is permanent: it cannot be deleted.")


class OutboundEmail(TenantOwned):
    """An email to send, written in the same transaction as the change that causes it.

    A worker sends it after commit; a relay picks up any that were not sent (broker down, worker
    lost), so an email is never silently lost.
    """

    MAX_ATTEMPTS = 5  # tries before it is left failed, visible on the record it is about

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    to = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    attachment = models.CharField(
        max_length=100, blank=True, help_text="A document rendered at send time: kind:id"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    root_type = models.CharField(max_length=100, blank=True)
    root_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="email_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class SavedView(TenantOwned):
    """A list's filters, sort and columns saved under a name, for its owner alone or shared with
    everyone of the retailer (`oms.saved_views`)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    list_name = models.CharField(max_length=64, help_text="The list's URL name")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, help_text="The list's query string")
    shared = models.BooleanField(default=False, help_text="Shown to everyone of the retailer")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["retailer", "owner", "list_name", "name"], name="savedview_unique_name"
            ),
        ]
        indexes = [models.Index(fields=["retailer", "list_name"], name="savedview_by_list")]

    def __str__(self) -> str:
        return self.name


def _webhook_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


class WebhookEndpoint(TenantOwned):
    """A URL of the retailer's own systems (ERP, storefront, warehouse) told of the events it
    subscribes to by signed HTTP POSTs (`oms.webhooks`)."""

    url = models.CharField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event names it subscribes to")
    secret = models.CharField(max_length=100, default=_webhook_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # One deliverer at a time per endpoint, so its deliveries keep their order: the lease a
    # worker holds while it delivers; a crashed worker's lease lapses.
    delivering_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantOwned):
    """One event sent (or to send) to one endpoint: written with the change that causes it, the
    exact body it carries, and how each attempt went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(help_text="The same for one event on every endpoint and resend")
    payload = models.JSONField(help_text="The body sent")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    record_label = models.CharField(max_length=100, blank=True, help_text="orders.order, ...")
    record_id = models.CharField(max_length=64, blank=True)
    record_ref = models.CharField(max_length=100, blank=True, help_text="The order ref, ...")
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["retailer", "-created_at", "-id"], name="webhookdelivery_recent"),
            models.Index(
                fields=["endpoint", "-created_at", "-id"], name="webhookdelivery_by_endpoint"
            ),
            # the deliverer's line: an endpoint's pending deliveries, oldest first
            models.Index(
                fields=["endpoint", "status", "next_attempt_at"], name="webhookdelivery_due"
            ),
            # the relay: pending deliveries of every endpoint that are due
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhookdelivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id}"
