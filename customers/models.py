from django.db import models
from django.urls import reverse
from django.utils import timezone

from oms.search import key_field
from oms.tenancy import TenantOwned


class Customer(TenantOwned):
    """A retailer's customer."""

    class Segment(models.TextChoices):
        CONSUMER = "consumer", "Consumer"
        VIP = "vip", "VIP"
        BUSINESS = "business", "Business"
        STAFF = "staff", "Staff"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        BLOCKED = "blocked", "Blocked"

    ref = models.CharField(max_length=64)
    ref_key = key_field("ref")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    email_key = key_field("email")
    mobile = models.CharField(max_length=32, blank=True)
    segment = models.CharField(max_length=16, choices=Segment.choices, default=Segment.CONSUMER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    language = models.CharField(
        max_length=8,
        blank=True,
        default="",
        db_default="",
        help_text="ISO 639-1 code for documents and emails; empty: the retailer's language",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["retailer", "ref"], name="customer_unique_ref"),
        ]
        indexes = [
            models.Index(fields=["retailer", "email_key"], name="customer_email_key"),
            models.Index(
                fields=["retailer", "ref_key"],
                name="customer_ref_key",
                opclasses=["int8_ops", "text_pattern_ops"],
            ),
            models.Index(fields=["retailer", "last_name", "first_name"], name="customer_by_name"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("customers:customer_detail", kwargs={"pk": self.pk})

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Address(TenantOwned):
    """A postal address: a customer's, or the billing or delivery address of an order."""

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="addresses"
    )
    name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    phone = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        return ", ".join(self.lines)

    @property
    def lines(self) -> list[str]:
        """The address as it is written on an envelope, one line each, empty ones left out."""
        city_line = " ".join(part for part in (self.postcode, self.city) if part)
        parts = [self.name, self.company, self.line1, self.line2, city_line, self.region]
        return [part for part in [*parts, self.country] if part]
