from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from oms import bounds
from oms.exports import csv_response, moment
from oms.models import Activity
from oms.roles import Role, has_role
from oms.state import InvalidTransition
from oms.tenancy import retailer_ids_for
from oms.views import HtmxResultsMixin, TenantDetailView, TenantObjectActionView, TenantScopedMixin
from orders.models import Order
from returns import services
from returns.filters import ReturnFilter
from returns.forms import ReturnChoiceForm
from returns.models import (
    AttributeType,
    Return,
    ReturnCondition,
    ReturnFulfilment,
    ReturnItem,
    ReturnReason,
    ReturnType,
)
from returns.tables import ReturnTable

CSV_COLUMNS = [
    ("Return id", lambda r: r.pk),
    ("Return ref", lambda r: r.return_ref),
    ("Retailer", lambda r: r.retailer.name),
    ("Order ref", lambda r: r.order.ref if r.order_id else ""),
    ("Customer", lambda r: r.customer_name),
    ("Email", lambda r: r.customer_email),
    ("Type", lambda r: r.type),
    ("Status", lambda r: r.status),
    ("Total", lambda r: r.total_return_price),
    ("Currency", lambda r: r.currency),
    ("Drop-off", lambda r: r.preferred_location_ref or ""),
    ("Created ({zone})", lambda r: moment(r.created_at)),
]


class _ReturnsMixin(TenantScopedMixin):
    model = Return

    def scope_queryset(self, queryset):
        return queryset.with_list_columns()


class ReturnListView(_ReturnsMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    table_class = ReturnTable
    filterset_class = ReturnFilter
    list_name = "returns:return_list"
    list_label = "Returns"
    template_name = "returns/return_list.html"
    paginate_by = 50

    def get_table_kwargs(self) -> dict[str, Any]:
        return {} if len(retailer_ids_for(self.request.user)) > 1 else {"exclude": ("retailer",)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context["querystring"] = query.urlencode()
        return context


class ReturnExportCsvView(_ReturnsMixin, View):
    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        filterset = ReturnFilter(request.GET, self.get_queryset(), request=request)
        if not filterset.is_valid():
            return csv_response([], CSV_COLUMNS, "returns.csv")
        returns = filterset.qs.order_by("-created_at", "-pk").iterator(chunk_size=2000)
        return csv_response(returns, CSV_COLUMNS, "returns.csv")


def return_activity(ret: Return, refund_ids: list[int]):
    """The return's own history, with its refunds' movements at the gateway."""
    return (
        Activity.objects.filter(retailer_id=ret.retailer_id)
        .filter(
            Q(root_type="returns.return", root_id=str(ret.pk))
            | Q(target_type="returns.return", target_id=str(ret.pk))
            | Q(
                target_type="billing.paymenttransaction", target_id__in=[str(i) for i in refund_ids]
            )
        )
        .select_related("actor")
        .order_by("-created_at", "-pk")[:200]
    )


def return_destination(ret: Return, location) -> dict | None:
    """Where the parcel goes, street and all: the address the return holds, or else that of
    the retailer's location it names."""
    address = (ret.fulfilment_choice or {}).get("address") or {}
    if any(address.get(key) for key in ("street", "city", "postcode")):
        return address
    if location is None:
        return address or None
    return services.location_address(location)


class ReturnAttributeView(TenantObjectActionView):
    """Set or remove a custom attribute of the return."""

    model = Return

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ret = self.get_object()
        remove = request.POST.get("remove") == "1"
        name = request.POST.get("name", "")
        try:
            services.return_attribute_set(
                ret=ret,
                by=request.user,
                name=name,
                type=request.POST.get("type") or AttributeType.STRING,
                value=None if remove else request.POST.get("value", ""),
            )
        except ValidationError as error:
            reasons = (
                [f"{k.capitalize()} {' '.join(v)}" for k, v in error.message_dict.items()]
                if hasattr(error, "error_dict")
                else error.messages  # a colleague's change since the page was drawn
            )
            messages.error(request, "The attribute is not saved: " + " ".join(reasons))
        else:
            messages.success(
                request, "Attribute removed." if remove else f"Attribute {name.strip()} saved."
            )
        return redirect(f"{ret.get_absolute_url()}#attributes")


class ReturnDetailView(TenantDetailView):
    model = Return
    template_name = "returns/return_detail.html"
    context_object_name = "ret"

    def scope_queryset(self, queryset):
        return queryset.select_related(
            "retailer", "order", "order__shipping_address", "action", "credit_note", "customer"
        ).prefetch_related(
            "items__reason",
            "items__condition",
            "items__action",
            "fulfilments",
            "refunds__payment",
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ret = self.object
        refunds = list(ret.refunds.all())
        by_hand = sum(
            (
                r.amount
                for r in refunds
                if r.kind == r.Kind.MANUAL_REFUND and r.status == "succeeded"
            ),
            Decimal(0),
        )
        fulfilments = list(ret.fulfilments.all())
        choice = ret.fulfilment_choice or {}
        locations = services.locations_by_ref(
            ret.retailer_id,
            [choice.get("preferredLocationRef"), *(f.to_location for f in fulfilments)],
        )
        for parcel in fulfilments:
            parcel.to_location_name = getattr(locations.get(parcel.to_location), "name", "")
        drop_off = locations.get(choice.get("preferredLocationRef") or "")
        context.update(
            by_hand=by_hand,
            items=list(ret.items.all()),
            fulfilments=fulfilments,
            drop_off=drop_off,
            sender_address=ret.order.shipping_address if ret.order_id else None,
            destination=return_destination(ret, drop_off),
            attribute_types=AttributeType.choices,
            can_set_attributes=has_role(self.request.user, ret.retailer_id, Role.AGENT),
            refunds=refunds,
            activity=list(return_activity(ret, [refund.pk for refund in refunds])),
            can_manage=has_role(self.request.user, ret.retailer_id, Role.MANAGER),
            gateway_payment=services.single_gateway_payment(ret),
        )
        return context


class FulfilmentDetailView(_ReturnsMixin, TemplateView):
    template_name = "returns/fulfilment_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ret = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        fulfilment = get_object_or_404(ret.fulfilments, pk=self.kwargs["fid"])
        to = services.locations_by_ref(ret.retailer_id, [fulfilment.to_location])
        fulfilment.to_location_name = getattr(to.get(fulfilment.to_location), "name", "")
        steps = [
            ("Created", fulfilment.created_at),
            ("Arrived at the drop-off point", fulfilment.arrived_at),
            ("Complete at the destination", fulfilment.completed_at),
        ]
        return super().get_context_data(
            ret=ret,
            fulfilment=fulfilment,
            steps=steps,
            can_manage=has_role(self.request.user, ret.retailer_id, Role.MANAGER),
            next_status=next(iter(ReturnFulfilment.TRANSITIONS[fulfilment.status]), None),
            **kwargs,
        )


class FulfilmentMoveView(TenantObjectActionView):
    model = Return

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ret = self.get_object()
        fulfilment = get_object_or_404(ret.fulfilments, pk=kwargs["fid"])
        try:
            services.return_fulfilment_move(
                fulfilment=fulfilment,
                to=request.POST.get("status", ""),
                by=request.user,
                notify=request.POST.get("notify") == "on",
            )
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            fulfilment.refresh_from_db()
            messages.success(request, f"The return parcel is {fulfilment.get_status_display()}.")
        return redirect(fulfilment)


class ReleaseRefundView(TenantObjectActionView):
    model = Return

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ret = self.get_object()
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Confirm the refund first.")
            return redirect(ret)
        by_hand = request.POST.get("how") == "by_hand"
        try:
            services.return_release_refund(ret=ret, by=request.user, by_hand=by_hand)
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(
                request,
                "Refund recorded as paid by hand; the return is complete."
                if by_hand
                else "Refund sent to the payment gateway.",
            )
        return redirect(ret)


class ReturnCreateView(TenantScopedMixin, TemplateView):
    """Create a customer return from an order: which items, how many, why, what happens."""

    model = Order
    template_name = "returns/return_create.html"

    def scope_queryset(self, queryset):
        return queryset.select_related("retailer", "customer")

    def order(self) -> Order:
        if not hasattr(self, "_order"):
            self._order = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        return self._order

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        order = self.order()
        units = order.line_units
        lines = [
            {
                "line": line,
                "left": units[line.pk].returnable,
                "shipped": units[line.pk].shipped,
            }
            for line in order.lines.all()
        ]
        retailer_id = order.retailer_id
        return super().get_context_data(
            order=order,
            lines=lines,
            reasons=ReturnReason.objects.filter(retailer_id=retailer_id, is_active=True),
            conditions=ReturnCondition.objects.filter(retailer_id=retailer_id, is_active=True),
            form=kwargs.pop("form", None) or ReturnChoiceForm(retailer_id=retailer_id),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.order()
        form = ReturnChoiceForm(request.POST, retailer_id=order.retailer_id)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        items = self.items(order, form)
        if items is None:
            return self.render_to_response(self.get_context_data(form=form), status=400)
        choice = None
        if form.cleaned_data["fulfilment_type"]:
            choice = {
                "fulfilmentType": form.cleaned_data["fulfilment_type"],
                "preferredLocationRef": form.cleaned_data["preferred_location_ref"] or None,
                "fulfilmentPrice": None,
                "fulfilmentTaxPrice": None,
                "currency": order.currency,
                "address": None,
            }
        customer = order.customer
        data = services.ReturnInput(
            retailer_id=order.retailer_id,
            type=ReturnType.CUSTOMER_RETURN,
            order=order,
            customer=services.CustomerInput(
                email=customer.email if customer else "",
                first_name=customer.first_name if customer else "",
                last_name=customer.last_name if customer else "",
                mobile=customer.mobile if customer else "",
                customer_ref=customer.ref if customer else "",
            ),
            items=items,
            fulfilment_choice=choice,
            action=form.cleaned_data["action"],
            notify=form.cleaned_data["notify"],
        )
        try:
            ret = services.return_create(data=data, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.success(request, f"Return {ret.return_ref} created ({ret.get_status_display()}).")
        return redirect(ret)

    def items(self, order: Order, form: ReturnChoiceForm) -> list[services.ItemInput] | None:
        """The units coming back, one item each as the Returns API has it; None (with the
        reasons on the page) when a line asks for more than it can return. Every count is
        checked against what its line allows before a single item is built."""
        units = order.line_units
        lines = list(order.lines.all())
        wanted, errors = {}, []
        for line in lines:
            raw = self.request.POST.get(f"qty_{line.pk}", "") or "0"
            left = units[line.pk].returnable
            count = bounds.parse_int(raw)
            if count is not None and count > left:
                errors.append(
                    f"{line.sku}: {count} returned but only {left} of {line.quantity} ordered "
                    f"can still be returned ({units[line.pk].shipped} shipped)."
                )
                continue
            try:
                wanted[line.pk] = bounds.check_quantity(raw, most=left)
                for name in ("reason", "condition"):
                    bounds.check_text(
                        self.request.POST.get(f"{name}_{line.pk}", ""), ReturnItem, f"{name}_text"
                    )
            except ValidationError as error:
                errors.append(f"{line.sku}: {' '.join(error.messages)}")
        if errors:
            messages.error(self.request, " ".join(errors))
            return None
        items = []
        for line in lines:
            # a customer return holds one unit per item; the count is bounded by the line above
            items += [
                services.ItemInput(
                    sku_ref=line.sku,
                    order_line=line,
                    reason=self.request.POST.get(f"reason_{line.pk}", ""),
                    condition=self.request.POST.get(f"condition_{line.pk}", ""),
                    action=form.cleaned_data["action"],
                )
                for _ in range(wanted[line.pk])
            ]
        return items
