from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
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
from orders.models import (
    AWAITING_PAYMENT,
    OPEN_STATES,
    Order,
    ShipmentStatus,
    Task,
    TicketMessage,
)
from orders.risk import RULES, flagged_risks, risks_of, transit_days_for, with_risk_flags
from orders.services import bulk
from orders.tables import OrderTable
from returns.models import ReturnItem

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

    def get_table_pagination(self, table):
        """The page's orders are flagged at risk or not in the page's own query (the count
        is left without the flags)."""
        transit = transit_days_for(self.request.user)
        pagination = super().get_table_pagination(table)
        pagination["rows_of"] = lambda orders: with_risk_flags(orders, transit)
        return pagination

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.managed_retailers = frozenset(retailer_ids_for(self.request.user, Role.MANAGER))
        rows = table.page.object_list
        records = rows.data if hasattr(rows, "data") else [row.record for row in rows]
        table.risks = flagged_risks(records, transit_days_for(self.request.user))
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

    @property
    def tab_only(self) -> bool:
        """Whether only the open tab is drawn (htmx swapping a tab in): the page around it,
        its header, sections and their reads, is left out."""
        return self.request.htmx.target in ("order-tab", "ticket-messages")

    def scope_queryset(self, queryset):
        if self.tab_only:
            return selectors.order_queryset(queryset)
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
        if self.tab_only:
            return [f"{self.template_name}#tab"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        order = self.object
        context.update(
            tab=self.tab,
            tabs=TABS,
            can_manage=has_role(self.request.user, order.retailer_id, Role.MANAGER),
        )
        if not self.tab_only:
            context.update(self.page_context(order))
        elif self.tab == "items":
            context.update(self.lines_context(order, selectors.tax_breakdown(order)))
        elif self.tab == "shipments":
            context.update(shipments=selectors.order_shipments(order))
        context.update(tab_context(self.request, order, self.tab, kwargs.get("forms", {})))
        return context

    def lines_context(self, order: Order, tax_bands) -> dict[str, Any]:
        """A page of lines at a time: an order of 10,000 lines opens as fast as one of 100.
        The tax bands count the lines for the pager."""
        lines_page = _CountedPaginator(
            order.lines.all(), LINES_PER_PAGE, count=sum(band.lines for band in tax_bands)
        ).get_page(self.request.GET.get("lines"))
        return {"lines": list(lines_page.object_list), "lines_page": lines_page}

    def page_context(self, order: Order) -> dict[str, Any]:
        """What the page around the tabs shows: header, items, live section, money."""
        tax_bands = selectors.tax_breakdown(order)
        payments = list(order.payments.all())
        balances = ledger.balances(payments)
        return {
            **self.lines_context(order, tax_bands),
            "fulfilments": selectors.order_fulfilments(order),
            "shipments": selectors.order_shipments(order),
            "refreshed_at": timezone.localtime(),
            "payments": payments,
            "balances": balances,
            "cancel_plan": ledger.settlement_of(balances),
            "memos": list(order.memos.all()),
            "tax_bands": tax_bands,
            "status_options": list(selectors.status_choices(order)),
            "available_states": order.available_states(),
            "paid_online": ledger.paid(payments) > 0,
            "awaiting_payment": order.payment_status in AWAITING_PAYMENT,
            "shipment_statuses": ShipmentStatus.choices,
            # asked only of an open order, and on the retailer's day: most orders are closed
            "risks": risks_of([order]).get(order.pk, [])
            if order.status.system_state in OPEN_STATES
            else [],
        }


class _CountedPaginator(Paginator):
    """A paginator told how many objects there are, by a query the page makes anyway."""

    def __init__(self, object_list, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self.count = count  # in place of Paginator's COUNT query


def tab_context(request: HttpRequest, order: Order, tab: str, forms: dict) -> dict[str, Any]:
    """What one tab shows: read only when it is open. (The Shipments tab shows the `shipments`
    the page reads for its live section.)"""
    if tab == "customer":
        return customer_tab(order)
    if tab == "transactions":
        return {"transactions": list(order.transactions.select_related("payment", "created_by"))}
    if tab == "comments":
        return {
            "comments": list(order.comments.select_related("author")),
            "comment_form": forms.get("comment") or CommentForm(),
            "memo_form": _staff_read(
                forms.get("memo") or MemoForm(retailer_id=order.retailer_id), "recipient"
            ),
        }
    if tab == "tasks":
        return {
            "tasks": selectors.order_tasks(order),
            "task_form": _staff_read(
                forms.get("task") or TaskForm(retailer_id=order.retailer_id), "assignee"
            ),
            "task_statuses": Task.Status.choices,
        }
    if tab == "tickets":
        said = TicketMessage.objects.select_related("author")
        return {"tickets": list(order.tickets.prefetch_related(Prefetch("messages", said)))}
    if tab == "returns":
        items = ReturnItem.objects.select_related("reason")
        return {
            "returns": list(
                order.returns.select_related("action").prefetch_related(Prefetch("items", items))
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


def _staff_read(form, name: str):
    """The form, its staff choice `name` read in one query: a template looping over a model
    choice field's own choices counts them first, then reads them through a cursor."""
    field = form.fields[name]
    options = field.iterator(field)
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = [*empty, *(options.choice(user) for user in field.queryset)]
    return form


CUSTOMER_TAB_ROWS = 10  # recent orders, open returns and open tickets on the Customer tab


def customer_tab(order: Order) -> dict[str, Any]:
    """The order's customer at a glance: who they are, where they live, what they bought and
    what is still open with them (a fixed number of queries, however long their history)."""
    customer = order.customer
    if customer is None:
        return {"customer": None}
    customer.retailer = order.retailer  # the same retailer, read with the order already
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
        # the page around the tab reads its own sections when it is drawn whole
        return selectors.order_queryset(queryset)

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
    live_touches = frozenset()  # notes never go stale

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
    live_touches = frozenset()  # notes never go stale

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
    live_touches = frozenset()  # notes never go stale

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
    live_touches = frozenset()  # notes never go stale

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
