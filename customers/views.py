from __future__ import annotations

from typing import Any, ClassVar

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from billing.ledger import refundable_by_method
from billing.models import Payment
from customers import selectors, services
from customers.forms import AddressForm, CustomerForm
from customers.models import Customer
from oms import bounds
from oms.live.guard import StaleAction, refuse
from oms.search import name_words, search_key
from oms.tables import BaseTable, record_url
from oms.views import HtmxResultsMixin, TenantDetailView, TenantScopedMixin
from orders.models import Order, Ticket
from returns.models import Return


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    segment = django_filters.MultipleChoiceFilter(distinct=False, choices=Customer.Segment.choices)

    class Meta:
        model = Customer
        fields: list[str] = []

    def search(self, queryset, name, value):
        """Name, email, customer ref or mobile."""
        value = value.strip()
        if not value:
            return queryset
        match = (
            Q(email_key=search_key(value))
            | Q(ref_key__key_prefix=search_key(value))
            | Q(mobile__icontains=value.replace(" ", ""))
            | Q(mobile__icontains=value)
        )
        return queryset.filter(match | name_words(value))


class CustomerTable(BaseTable):
    live_row = "customers.customer"  # rows changed while the list is open are marked
    name = tables.Column(
        "Customer",
        accessor="last_name",
        order_by=("last_name", "first_name"),
        linkify=record_url("customers:customer_detail"),
        attrs={"a": {"hx-boost": "false"}},
    )
    email = tables.Column("Email")
    ref = tables.Column("Ref")
    mobile = tables.Column("Mobile")
    segment = tables.Column("Segment")
    status = tables.Column("Status")
    retailer = tables.Column("Retailer", accessor="retailer__name")

    class Meta(BaseTable.Meta):
        model = Customer
        fields = ("name", "email", "ref", "mobile", "segment", "status", "retailer")
        order_by = "name"

    def render_name(self, record):
        return record.full_name


class CustomerListView(TenantScopedMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    model = Customer
    table_class = CustomerTable
    filterset_class = CustomerFilter
    list_name = "customers:customer_list"
    list_label = "Customers"
    template_name = "customers/customer_list.html"
    paginate_by = 50

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer")


# The customer page shows the latest of each; all of a customer's orders are a filter of the list.
RECENT = 25


class CustomerDetailView(TenantDetailView):
    model = Customer
    template_name = "customers/customer_detail.html"
    context_object_name = "customer"

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        customer = self.object
        orders = Order.objects.filter(retailer_id=customer.retailer_id, customer=customer)
        context.update(
            figures=selectors.figures(customer),
            activity=selectors.activity(customer),
            language=selectors.language_name(customer),
            orders=list(orders.select_related("status").order_by("-placed_at")[:RECENT]),
            recent=RECENT,
            returns=list(
                Return.objects.filter(
                    retailer_id=customer.retailer_id, customer=customer
                ).select_related("order")[:RECENT]
            ),
            tickets=list(
                Ticket.objects.filter(
                    retailer_id=customer.retailer_id, order__customer=customer
                ).select_related("order")[:RECENT]
            ),
            accounts=list(customer.billing_accounts.all()),
            addresses=selectors.address_book(customer),
            # the order's retailer named too: without it Postgres joins every payment of the
            # retailer to the customer's orders (31 ms for 865 orders of 200,000, against 4 ms)
            refunds=refundable_by_method(
                Payment.objects.filter(
                    retailer_id=customer.retailer_id,
                    order__retailer_id=customer.retailer_id,
                    order__customer=customer,
                )
            ),
        )
        return context


def _next(request: HttpRequest, fallback: str) -> str:
    """Where the user came from (`next`, on this site), else `fallback`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _label(form, field: str) -> str:
    label = form.fields[field].label if field in form.fields else None
    return f"{label}: " if label else ""


class CustomerEditView(TenantScopedMixin, TemplateView):
    """Edit a customer: their details, and the addresses of their address book. Agents may: the
    services check the role in the customer's retailer."""

    model = Customer
    template_name = "customers/customer_edit.html"
    # a save from a page drawn before a colleague changed the customer (details or addresses)
    # is refused, and says what changed (oms/live/guard.py)
    live_touches: ClassVar[frozenset[str]] = frozenset({"customer"})

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer")

    def customer(self) -> Customer:
        return self.find(pk=self.kwargs["pk"])

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.page(self.customer()))

    def page(
        self,
        customer: Customer,
        *,
        form: CustomerForm | None = None,
        address_form: AddressForm | None = None,
    ) -> dict[str, Any]:
        """The page's context; a bound form that failed takes the place of its blank one."""
        failed_id = address_form.data.get("address", "") if address_form is not None else None
        book = selectors.address_book(customer)
        addresses = [
            (
                address,
                address_form
                if failed_id == str(address.pk)
                else AddressForm.of(address, auto_id=f"a{address.pk}-%s"),
            )
            for address in book.rows
        ]
        new_form = address_form if failed_id == "" else None
        return self.get_context_data(
            customer=customer,
            form=form or CustomerForm.of(customer),
            addresses=addresses,
            more_addresses=book.more,
            new_address_form=new_form
            or AddressForm(auto_id="new-%s", initial={"name": customer.full_name}),
            next=_next(self.request, customer.get_absolute_url()),
        )

    def failed(self, customer: Customer, error: ValidationError | None = None, **forms: Any):
        """The page again with the reasons, answered 400: nothing was changed."""
        if isinstance(error, StaleAction):  # changed by a colleague since the page was drawn:
            return refuse(self.request, error)  # back to the page as it is now, with what changed
        bound = next(iter(forms.values()))
        if error is not None:
            for field, reasons in error.message_dict.items():
                for reason in reasons:
                    bound.add_error(field if field in bound.fields else None, reason)
        reasons = [
            f"{_label(bound, field)}{reason}"
            for field, field_reasons in bound.errors.items()
            for reason in field_reasons
        ]
        messages.error(self.request, f"Nothing was saved. {' '.join(reasons)}")
        return self.render_to_response(self.page(customer, **forms), status=400)

    def done(self, customer: Customer, text: str) -> HttpResponse:
        messages.success(self.request, text)
        return redirect(_next(self.request, customer.get_absolute_url()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Save the customer's details."""
        customer = self.customer()
        form = CustomerForm(request.POST, retailer=customer.retailer)
        if not form.is_valid():
            return self.failed(customer, form=form)
        try:
            services.customer_update(customer=customer, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            return self.failed(customer, error, form=form)
        return self.done(customer, f"{customer.full_name or customer.ref}: details saved.")


class AddressSaveView(CustomerEditView):
    """Add an address to the customer's address book, or change one (`address`: its id)."""

    http_method_names: ClassVar[list[str]] = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = self.customer()
        address_id = request.POST.get("address", "")
        number = bounds.parse_int(address_id)
        form = AddressForm(request.POST, auto_id=f"a{number}-%s" if address_id else "new-%s")
        if not form.is_valid():
            return self.failed(customer, address_form=form)
        try:
            services.address_save(
                customer=customer,
                by=request.user,
                address_id=form.cleaned_data["address"] or None,
                **form.values(),
            )
        except ValidationError as error:
            return self.failed(customer, error, address_form=form)
        return self.done(customer, "Address added." if not address_id else "Address saved.")


class AddressRemoveView(CustomerEditView):
    """Take an address out of the customer's address book."""

    http_method_names: ClassVar[list[str]] = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = self.customer()
        try:
            services.address_remove(
                customer=customer, by=request.user, address_id=request.POST.get("address", "")
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(_next(request, customer.get_absolute_url()))
        return self.done(customer, "Address removed.")
