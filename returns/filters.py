import django_filters
from django.db.models import Q

from oms.bounds import parse_int
from oms.filters import LocalDateRangeFilter, RetailerFilter, offer_retailers
from oms.search import name_words, search_key
from oms.tenancy import retailer_ids_for
from orders.models import Order
from returns.models import Return, ReturnStatus, ReturnType


class ReturnFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    type = django_filters.MultipleChoiceFilter(
        distinct=False, choices=ReturnType.choices, label="Type"
    )
    status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=ReturnStatus.choices, label="Status"
    )
    created = LocalDateRangeFilter(field_name="created_at", label="Created")
    retailer = RetailerFilter()

    class Meta:
        model = Return
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        offer_retailers(self, request.user)

    @property
    def has_retailer_filter(self) -> bool:
        return "retailer" in self.filters

    def search(self, queryset, name, value):
        """Return id, return ref, order ref or customer name."""
        value = value.strip()
        if not value:
            return queryset
        match = Q(return_ref_key__key_prefix=search_key(value))
        order_ids = Order.objects.for_retailers(retailer_ids_for(self.request.user)).ids_by_ref(
            value
        )
        if order_ids:
            match |= Q(order_id__in=order_ids)
        if parse_int(value) is not None:
            match |= Q(pk=parse_int(value))
        return queryset.filter(
            match | name_words(value, "customer_first_name", "customer_last_name")
        )
