from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from customers.models import Customer
from oms.bounds import parse_int
from oms.filters import LazyChoices, LocalDateRangeFilter, RetailerFilter, offer_retailers
from oms.search import could_be_a_name, name_words, search_key
from oms.tenancy import retailer_ids_for
from orders.models import Channel, Order, OrderLine, OrderStatus, OrderType, Shipment, SystemState
from orders.risk import at_risk, transit_days_for

PRESETS = [
    ("open", "Open orders"),
    ("on_hold", "On hold"),
    ("awaiting_payment", "Awaiting payment"),
    ("today", "Placed today"),
    ("payment_failed", "Failed payment operations"),
    ("unanswered", "Unanswered tickets"),
    ("at_risk", "At risk"),
]


SEARCH_LIMIT = 1000


def _status_choices(retailer_ids) -> LazyChoices:
    """The statuses of these retailers as choices, read when first asked for: a page showing
    only the results (an htmx swap) never reads them, and the filter menu and the bulk bar
    share one read."""
    return LazyChoices(
        lambda: list(
            dict(
                OrderStatus.objects.for_retailers(retailer_ids)
                .order_by("position", "label")
                .values_list("code", "label")
            ).items()
        )
    )


class OrderFilter(django_filters.FilterSet):
    search_note = ""

    q = django_filters.CharFilter(method="search", label="Search")
    view = django_filters.ChoiceFilter(
        method="preset", choices=PRESETS, label="View", empty_label="All orders"
    )
    status = django_filters.MultipleChoiceFilter(
        distinct=False, field_name="status__code", label="Status"
    )
    state = django_filters.MultipleChoiceFilter(
        distinct=False,
        field_name="status__system_state",
        choices=SystemState.choices,
        label="System state",
    )
    placed = LocalDateRangeFilter(field_name="placed_at", label="Placed")
    segment = django_filters.MultipleChoiceFilter(
        distinct=False,
        field_name="customer__segment",
        choices=Customer.Segment.choices,
        label="Segment",
    )
    channel = django_filters.MultipleChoiceFilter(
        distinct=False, choices=Channel.choices, label="Channel"
    )
    type = django_filters.ChoiceFilter(choices=OrderType.choices, label="Type")
    customer = django_filters.NumberFilter(field_name="customer_id", label="Customer")
    retailer = RetailerFilter()

    class Meta:
        model = Order
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        self.filters["status"].extra["choices"] = _status_choices(retailer_ids_for(request.user))
        offer_retailers(self, request.user)

    @cached_property
    def customer_shown(self) -> Customer | None:
        """The customer the list is narrowed to (from a customer's page), if one of the user's."""
        number = parse_int(self.data.get("customer", ""))
        if number is None:
            return None
        return Customer.objects.for_user(self.request.user).filter(pk=number).first()

    @property
    def has_retailer_filter(self) -> bool:
        return "retailer" in self.filters

    def search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        """One box for order ref (its start), customer name or email, and tracking number.

        Each kind is looked up on its own index first (customers, order lines, shipments), and
        the orders are then matched by ref prefix or by those ids: one OR across joined tables
        would make Postgres read every order of the retailer.
        """
        value = value.strip()
        if not value:
            return queryset
        retailer_ids = retailer_ids_for(self.request.user)
        key = search_key(value)
        match = Q(ref_key__key_prefix=key)
        tracked = set(
            OrderLine.objects.for_retailers(retailer_ids)
            .filter(tracking_key=key)
            .order_by()
            .values_list("order_id", flat=True)
            .union(
                Shipment.objects.for_retailers(retailer_ids)
                .filter(tracking_key=key)
                .order_by()
                .values_list("order_id", flat=True)
            )
            .order_by()[:SEARCH_LIMIT]
        )
        if tracked:
            match |= Q(pk__in=sorted(tracked))
        customers = Customer.objects.for_retailers(retailer_ids)
        if "@" in value:
            customers = customers.filter(email_key=key)
        elif not could_be_a_name(value):
            customers = customers.none()  # a ref or tracking number: no query, no name has digits
        else:
            customers = customers.filter(name_words(value))
        customer_ids = list(customers.values_list("pk", flat=True)[: SEARCH_LIMIT + 1])
        if len(customer_ids) > SEARCH_LIMIT:
            customer_ids = customer_ids[:SEARCH_LIMIT]
            self.search_note = (
                f"More than {SEARCH_LIMIT:,} customers match “{value}”: these are the orders "
                "of the first of them. Add a surname or use the email address to narrow it."
            )
        if customer_ids:
            match |= Q(customer_id__in=customer_ids)
        return queryset.filter(match)

    def preset(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        if value == "open":
            return queryset.open()
        if value == "on_hold":
            return queryset.on_hold()
        if value == "awaiting_payment":
            return queryset.awaiting_payment()
        if value == "payment_failed":
            return queryset.payment_failed()
        if value == "unanswered":
            return queryset.unanswered()
        if value == "at_risk":
            user = self.request.user
            return at_risk(queryset, retailer_ids_for(user), transit=transit_days_for(user))
        if value == "today":
            start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
            return queryset.filter(placed_at__gte=start, placed_at__lt=start + timedelta(days=1))
        return queryset
