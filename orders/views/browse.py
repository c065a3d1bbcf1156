from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View
from django.views.generic import ListView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from weasyprint import HTML

from billing import ledger
from billing.documents import credit_note_returns
from billing.models import INVOICE_LANGUAGES, Invoice
from billing.services import document_language, open_invoice
from customers import selectors as customer_selectors
from oms import datestyle
from oms.exports import csv_response
from oms.roles import Role, has_role, has_role_anywhere
from oms.tenancy import retailer_ids_for
from oms.views import HtmxResultsMixin, TenantDetailView, TenantObjectActionView, TenantScopedMixin
from orders import selectors, services
from orders.exports import CSV_COLUMNS
from orders.filters import PRESETS, OrderFilter
from orders.forms import CommentForm, MemoForm, TaskForm, TaskStatusForm
from orders.models import AWAITING_PAYMENT, OPEN_STATES, Order, ShipmentStatus, Task
from orders.risk import RULES, risks_of
from orders.services import bulk
from orders.tables import OrderTable

PDF_EXPORT_LIMIT = 500
LINES_PER_PAGE = 100  # the order page's items, a page at a time


class _FilteredOrdersMixin(TenantScopedMixin):
    """The orders of the user's retailers, as the list's filters and sort narrow them."""

    model = Order

    def scope_queryset(self, queryset):
        return queryset.with_list_columns()

    def filtered_orders(self):
        filterset = OrderFilter(self.request.GET, self.get_queryset(), request=self.request)
        if not filterset.is_valid():
            return filterset, Order.objects.none()
        sort = self.request.GET.get("sort")
        table = OrderTable(filterset.qs, order_by=sort) if sort else None
        orders = table.data.data if table is not None else filterset.qs
        return filterset, orders


class OrderListView(_FilteredOrdersMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    table_class = OrderTable
    filterset_class = OrderFilter
    list_name = "orders:order_list"
    list_label = "Orders"
    template_name = "orders/order_list.html"
    paginate_by = 50

    def get_table_kwargs(self) -> dict[str, Any]:
        exclude = []
        if len(retailer_ids_for(self.request.user)) == 1:
            exclude.append("retailer")
        if not self.can_bulk():
            exclude.append("select")
        return {"exclude": tuple(exclude)}

    def can_bulk(self) -> bool:
        """The bulk bar shows to a manager of any retailer; it acts on that retailer's orders."""
        return has_role_anywhere(self.request.user, Role.MANAGER)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.managed_retailers = frozenset(retailer_ids_for(self.request.user, Role.MANAGER))
        rows = table.page.object_list
        records = rows.data if hasattr(rows, "data") else [row.record for row in rows]
        table.risks = risks_of(list(records))
        return table

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        presets = []
        for value, label in [("", "All orders"), *PRESETS]:
            preset_query = query.copy()
            preset_query.pop("view", None)
            if value:
                preset_query["view"] = value
            presets.append(
                {
                    "label": label,
                    "query": preset_query.urlencode(),
                    "active": self.request.GET.get("view", "") == value,
                }
            )
        without_customer = query.copy()
        without_customer.pop("customer", None)
        context.update(
            presets=presets,
            querystring=query.urlencode(),
            without_customer=without_customer.urlencode(),
            pdf_export_limit=PDF_EXPORT_LIMIT,
            risk_rules=RULES,
            can_bulk=self.can_bulk(),
            bulk_actions=bulk.ACTIONS.values(),
            bulk_limit=bulk.BULK_LIMIT,
        )
        return context


class OrderExportCsvView(_FilteredOrdersMixin, View):
    """Every order matching the list's filters, streamed as CSV."""

    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        _, orders = self.filtered_orders()
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return csv_response(orders.iterator(chunk_size=2000), CSV_COLUMNS, f"orders-{stamp}.csv")


class OrderExportPdfView(_FilteredOrdersMixin, View):
    """The filtered list as a PDF, up to PDF_EXPORT_LIMIT orders."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset, orders = self.filtered_orders()
        count = orders.count()
        if count > PDF_EXPORT_LIMIT:
            messages.error(
                request,
                f"The filter matches {count:,} orders; a PDF holds at most "
                f"{PDF_EXPORT_LIMIT:,}. Narrow the filter, or export CSV for all of them.",
            )
            query = request.GET.urlencode()
            return redirect(reverse("orders:order_list") + (f"?{query}" if query else ""))
        html = render_to_string(
            "orders/pdf/order_list.html",
            {
                "orders": list(orders),
                "filters": _describe_filters(filterset),
                "generated_at": timezone.localtime(),
                "user": request.user,
            },
            request=request,
        )
        pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return HttpResponse(
            pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="orders-{stamp}.pdf"'},
        )


def _describe_filters(filterset: OrderFilter) -> list[tuple[str, str]]:
    """The filters in force, as label and value text, for the head of an export."""
    described = []
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()) or (
            hasattr(value, "start") and not (value.start or value.stop)
        ):
            continue
        field = filterset.form.fields[name]
        if hasattr(value, "start"):
            text = " to ".join(
                datestyle.current().show(part) if part else "…"
                for part in (value.start, value.stop)
            )
        elif hasattr(field, "choices"):
            choices = {str(k): v for k, v in field.choices}
            values = value if isinstance(value, list | tuple) else [value]
            text = ", ".join(str(choices.get(str(getattr(v, "pk", v)), v)) for v in values)
        else:
            text = str(value)
        described.append((str(field.label), text))
    return described


TABS = [
    ("items", "Items"),
    ("customer", "Customer"),
    ("transactions", "Transactions"),
    ("shipments", "Shipments"),
    ("returns", "Returns"),
    ("invoices", "Invoices"),
    ("comments", "Comments"),
    ("tickets", "Tickets"),
    ("tasks", "Tasks"),
    ("activity", "Activity"),
]


class OrderDetailView(TenantDetailView):
    """The order page; `/orders/<id>/<tab>/` is the same page with another tab open."""

    model = Order
    template_name = "orders/order_detail.html"
    context_object_name = "order"

    def scope_queryset(self, queryset):
        return selectors.order_header_queryset(queryset)

    @property
    def tab(self) -> str:
        tab = self.kwargs.get("tab", "items")
        if tab not in dict(TABS):
            raise Http404("No such tab.")
        return tab

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.tab  # noqa: B018 - an unknown tab is a 404 before any query
        self.object = self.get_object()
        with datestyle.shown_for(self.object.retailer):
            return self.render_to_response(self.get_context_data()).render()

    def get_template_names(self) -> list[str]:
        if self.request.htmx.target in ("order-tab", "ticket-messages"):
            return [f"{self.template_name}#tab"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        order = self.object
        # a page of lines at a time: an order of 10,000 lines opens as fast as one of 100
        lines_page = Paginator(order.lines.all(), LINES_PER_PAGE).get_page(
            self.request.GET.get("lines")
        )
        lines = list(lines_page.object_list)
        payments = list(order.payments.all())
        balances = ledger.balances(payments)
        context.update(
            fulfilments=selectors.order_fulfilments(order),
            shipments=selectors.order_shipments(order),
            refreshed_at=timezone.localtime(),
        )
        context.update(
            tab=self.tab,
            tabs=TABS,
            lines=lines,
            lines_page=lines_page,
            payments=payments,
            balances=balances,
            cancel_plan=ledger.settlement_of(balances),
            memos=list(order.memos.all()),
            tax_bands=selectors.tax_breakdown(order),
            can_manage=has_role(self.request.user, order.retailer_id, Role.MANAGER),
            status_options=list(selectors.status_choices(order)),
            available_states=order.available_states(),
            paid_online=ledger.paid(payments) > 0,
            awaiting_payment=order.payment_status in AWAITING_PAYMENT,
            shipment_statuses=ShipmentStatus.choices,
            risks=risks_of([order]).get(order.pk, [])
            if order.status.system_state in OPEN_STATES
            else [],
        )
        context.update(tab_context(self.request, order, self.tab, kwargs.get("forms", {})))
        return context


def tab_context(request: HttpRequest, order: Order, tab: str, forms: dict) -> dict[str, Any]:
    """What one tab shows: read only when it is open."""
    if tab == "customer":
        return customer_tab(order)
    if tab == "transactions":
        return {"transactions": list(order.transactions.select_related("payment", "created_by"))}
    if tab == "shipments":
        return {"shipments": selectors.order_shipments(order)}
    if tab == "comments":
        return {
            "comments": list(order.comments.select_related("author")),
            "comment_form": forms.get("comment") or CommentForm(),
            "memo_form": forms.get("memo") or MemoForm(retailer_id=order.retailer_id),
        }
    if tab == "tasks":
        return {
            "tasks": selectors.order_tasks(order),
            "task_form": forms.get("task") or TaskForm(retailer_id=order.retailer_id),
            "task_statuses": Task.Status.choices,
        }
    if tab == "tickets":
        return {
            "tickets": list(order.tickets.prefetch_related("messages__author")),
        }
    if tab == "returns":
        return {
            "returns": list(
                order.returns.select_related("action").prefetch_related("items__reason")
            )
        }
    if tab == "invoices":
        first = document_language(order.retailer, customer=order.customer)
        invoices = list(order.invoices.select_related("credits"))
        refunds = credit_note_returns(invoices)
        for invoice in invoices:
            invoice.refund_of = refunds.get(invoice.pk)
        return {
            "invoices": invoices,
            "can_invoice": open_invoice(order) is None,
            "invoice_statuses": Invoice.Status.choices,
            "invoice_languages": sorted(INVOICE_LANGUAGES, key=lambda item: item[0] != first),
        }
    if tab == "activity":
        kind = request.GET.get("kind") or None
        return {
            "activity": list(selectors.order_activity(order, kind=kind)[:500]),
            "activity_kinds": [(k, label) for k, (label, _) in selectors.ACTIVITY_KINDS.items()],
            "activity_kind": kind,
        }
    return {}


CUSTOMER_TAB_ROWS = 10  # recent orders, open returns and open tickets on the Customer tab


def customer_tab(order: Order) -> dict[str, Any]:
    """The order's customer at a glance: who they are, where they live, what they bought and
    what is still open with them (a fixed number of queries, however long their history)."""
    customer = order.customer
    if customer is None:
        return {"customer": None}
    here = f"{reverse('orders:order_tab', args=[order.pk, 'customer'])}#order-tab"
    addresses = customer_selectors.address_book(customer)
    for address in addresses.rows:
        address.billing_here = customer_selectors.same_place(order.billing_address, address)
        address.shipping_here = customer_selectors.same_place(order.shipping_address, address)
    return {
        "customer": customer,
        "customer_language": customer_selectors.language_name(customer),
        "customer_figures": customer_selectors.figures(customer),
        "customer_orders": customer_selectors.recent_orders(customer, CUSTOMER_TAB_ROWS),
        "customer_returns": customer_selectors.open_returns(customer, CUSTOMER_TAB_ROWS),
        "customer_tickets": customer_selectors.open_tickets(customer, CUSTOMER_TAB_ROWS),
        "customer_addresses": addresses,
        "customer_edit_url": f"{reverse('customers:customer_edit', args=[customer.pk])}"
        f"?{urlencode({'next': here})}",
    }


class _OrderActionView(TenantObjectActionView):
    """Acts on one order, then shows the tab the action belongs to."""

    model = Order
    tab = "items"

    def scope_queryset(self, queryset):
        return selectors.order_header_queryset(queryset)

    def show_tab(self, order: Order, *, forms: dict | None = None, status: int = 200):
        if forms is None and not self.request.htmx:
            return redirect("orders:order_tab", pk=order.pk, tab=self.tab)
        view = OrderDetailView(request=self.request, kwargs={"pk": order.pk, "tab": self.tab})
        view.object = order
        with datestyle.shown_for(order.retailer):
            context = view.get_context_data(forms=forms or {})
            template = view.get_template_names()
            response = view.response_class(self.request, template, context, status=status)
            return response.render()

    def invalid(self, order: Order, form_name: str, form, error: ValidationError | None = None):
        if error is not None:
            for field, field_errors in error.message_dict.items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        return self.show_tab(
            order, forms={form_name: form}, status=200 if self.request.htmx else 400
        )


class CommentAddView(_OrderActionView):
    tab = "comments"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        form = CommentForm(request.POST)
        if not form.is_valid():
            return self.invalid(order, "comment", form)
        try:
            services.comment_add(order=order, by=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            return self.invalid(order, "comment", form, error)
        return self.show_tab(order)


class MemoAddView(_OrderActionView):
    tab = "comments"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        form = MemoForm(request.POST, retailer_id=order.retailer_id)
        if not form.is_valid():
            return self.invalid(order, "memo", form)
        try:
            services.memo_add(
                order=order,
                by=request.user,
                body=form.cleaned_data["body"],
                recipient=form.cleaned_data["recipient"],
            )
        except ValidationError as error:
            return self.invalid(order, "memo", form, error)
        if request.htmx:
            # the memo is pinned above the tabs: reload the whole page
            return HttpResponse(headers={"HX-Redirect": order.get_absolute_url() + "comments/"})
        return self.show_tab(order)


class TaskAddView(_OrderActionView):
    tab = "tasks"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        form = TaskForm(request.POST, retailer_id=order.retailer_id)
        if not form.is_valid():
            return self.invalid(order, "task", form)
        try:
            services.task_add(order=order, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            return self.invalid(order, "task", form, error)
        return self.show_tab(order)


class TaskStatusView(_OrderActionView):
    tab = "tasks"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        task = order.tasks.filter(pk=kwargs["task_pk"]).first()
        if task is None:
            raise Http404("No such task on this order.")
        form = TaskStatusForm(request.POST)
        if form.is_valid():
            services.task_set_status(task=task, by=request.user, status=form.cleaned_data["status"])
        else:
            messages.error(request, "Choose a valid task status.")
        return self.show_tab(order)


class MyTasksView(TenantScopedMixin, ListView):
    """The open tasks assigned to the user, soonest due first."""

    model = Task
    template_name = "orders/my_tasks.html"
    context_object_name = "tasks"
    paginate_by = 100

    def scope_queryset(self, queryset):
        show_done = self.request.GET.get("show") == "all"
        queryset = queryset.filter(assignee=self.request.user).select_related(
            "order", "order__retailer", "order__status", "created_by"
        )
        if not show_done:
            queryset = queryset.exclude(status=Task.Status.DONE)
        return queryset.order_by("due_at", "pk")
