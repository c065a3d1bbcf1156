from __future__ import annotations

from typing import Any

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import capfirst
from django.views import View
from django.views.generic import TemplateView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from billing import services
from billing.models import BillingAccount, BillingSettings, Invoice, Payment
from billing.services import billing_settings, billing_settings_update
from oms.models import Activity, Retailer
from oms.roles import Role, has_role
from oms.state import InvalidTransition
from oms.tables import BaseTable, record_url
from oms.views import (
    AdminRetailerMixin,
    HtmxResultsMixin,
    TenantDetailView,
    TenantObjectActionView,
    TenantScopedMixin,
)


class BillingSettingsForm(forms.ModelForm):
    class Meta:
        model = BillingSettings
        fields = [
            "invoice_trigger",
            "invoice_prefix",
            "credit_note_prefix",
            "default_delivery_time",
            "return_shipping",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["return_shipping"].required = False  # left as it is when not sent

    def clean_return_shipping(self) -> str:
        return self.cleaned_data.get("return_shipping") or self.instance.return_shipping


class BillingSettingsView(AdminRetailerMixin, TemplateView):
    template_name = "billing/settings.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None) or BillingSettingsForm(
            instance=billing_settings(self.retailer.pk)
        )
        return super().get_context_data(
            form=form, seller=SellerDetailsForm(instance=self.retailer), **kwargs
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        retailer = self.retailer
        form = BillingSettingsForm(request.POST, instance=billing_settings(retailer.pk))
        if form.is_valid():
            try:
                billing_settings_update(
                    retailer_id=retailer.pk,
                    by=request.user,
                    **{field: form.cleaned_data[field] for field in form.Meta.fields},
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Invoicing settings saved.")
                return redirect(f"{reverse('billing_settings:edit')}?retailer={retailer.pk}")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SellerDetailsForm(forms.ModelForm):
    """The seller's details invoices print; each is checked by `retailer_seller_update`."""

    class Meta:
        model = Retailer
        fields = list(services.SELLER_FIELDS)


class SellerDetailsView(AdminRetailerMixin, View):
    """Save the seller's details from the Invoicing settings page (admins)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        retailer = self.retailer
        try:
            services.retailer_seller_update(
                retailer_id=retailer.pk,
                by=request.user,
                **{name: request.POST.get(name, "") for name in services.SELLER_FIELDS},
            )
        except ValidationError as error:
            fields = getattr(error, "message_dict", {})
            messages.error(
                request,
                "Seller details not saved: "
                + (
                    " ".join(
                        f"{capfirst(Retailer._meta.get_field(name).verbose_name)}: "
                        f"{' '.join(texts)}"
                        for name, texts in fields.items()
                        if name in services.SELLER_FIELDS
                    )
                    or " ".join(error.messages)
                ),
            )
        else:
            messages.success(request, "Seller details saved.")
        return redirect(f"{reverse('billing_settings:edit')}?retailer={retailer.pk}")


class AccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(
        distinct=False, choices=BillingAccount.Status.choices
    )
    type = django_filters.MultipleChoiceFilter(distinct=False, choices=BillingAccount.Type.choices)

    class Meta:
        model = BillingAccount
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(
                Q(name__icontains=value)
                | Q(ref__istartswith=value)
                | Q(customer__last_name__icontains=value)
                | Q(erp_reference__iexact=value)
            )
            if value
            else queryset
        )


class AccountTable(BaseTable):
    name = tables.Column(
        "Name", linkify=record_url("billing:account_detail"), attrs={"a": {"hx-boost": "false"}}
    )
    status = tables.Column("Status")
    type = tables.Column("Type")
    ref = tables.Column("Ref")
    customer = tables.Column("Customer", accessor="customer", default="—")

    class Meta(BaseTable.Meta):
        model = BillingAccount
        fields = ("name", "status", "type", "ref", "customer")
        order_by = "name"


class AccountListView(TenantScopedMixin, HtmxResultsMixin, SingleTableMixin, FilterView):
    model = BillingAccount
    table_class = AccountTable
    filterset_class = AccountFilter
    list_name = "billing:account_list"
    list_label = "Billing accounts"
    template_name = "billing/account_list.html"
    paginate_by = 50

    def scope_queryset(self, queryset):
        return queryset.select_related("customer")


class AccountDetailView(TenantDetailView):
    model = BillingAccount
    template_name = "billing/account_detail.html"
    context_object_name = "account"

    def scope_queryset(self, queryset):
        return queryset.select_related("customer", "retailer")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = self.object
        documents = Invoice.objects.none()
        payments = Payment.objects.none()
        if account.customer_id:
            documents = Invoice.objects.filter(
                retailer_id=account.retailer_id, order__customer_id=account.customer_id
            )
            payments = Payment.objects.filter(
                retailer_id=account.retailer_id, order__customer_id=account.customer_id
            )
        documents = list(documents.select_related("order").order_by("-issued_at")[:200])
        context.update(
            invoices=[d for d in documents if not d.is_credit_note],
            credit_notes=[d for d in documents if d.is_credit_note],
            debit_memos=list(account.debit_memos.select_related("order")[:200]),
            payments=list(payments.select_related("order").order_by("-created_at")[:200]),
            transitions=[
                (s, BillingAccount.Status(s).label)
                for s in BillingAccount.TRANSITIONS[account.status]
            ],
            can_manage=has_role(self.request.user, account.retailer_id, Role.MANAGER),
            can_admin=has_role(self.request.user, account.retailer_id, Role.ADMIN),
            activity=Activity.objects.filter(
                retailer_id=account.retailer_id,
                root_type="billing.billingaccount",
                root_id=str(account.pk),
            ).select_related("actor")[:100],
        )
        return context


class _AccountAction(TenantObjectActionView):
    model = BillingAccount

    def post(self, request, *args, **kwargs):
        account = self.get_object()
        try:
            message = self.perform(account)
        except (ValidationError, InvalidTransition) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, message)
        return redirect(account)


class AccountStatusView(_AccountAction):
    def perform(self, account):
        account = services.billing_account_set_status(
            account=account, by=self.request.user, status=self.request.POST.get("status", "")
        )
        return f"The account is {account.get_status_display()}."


class AccountAttributeView(_AccountAction):
    def perform(self, account):
        remove = self.request.POST.get("remove") == "1"
        services.billing_account_set_attribute(
            account=account,
            by=self.request.user,
            key=self.request.POST.get("key", ""),
            value=None if remove else self.request.POST.get("value", ""),
        )
        return "Attribute removed." if remove else "Attribute saved."


class DebitMemoView(_AccountAction):
    def perform(self, account):
        memo = services.debit_memo_create(
            account=account,
            by=self.request.user,
            amount=self.request.POST.get("amount", ""),
            reason=self.request.POST.get("reason", ""),
        )
        return f"Debit memo {memo.number} created."


class AccountInvoiceEmailView(_AccountAction):
    def perform(self, account):
        invoice = Invoice.objects.filter(
            retailer_id=account.retailer_id,
            order__customer_id=account.customer_id,
            pk=self.kwargs["invoice_pk"],
        ).first()
        if invoice is None or account.customer_id is None:
            raise ValidationError("No such invoice on this account.")
        email = services.invoice_email_to_account(
            invoice=invoice, account=account, by=self.request.user
        )
        return f"{invoice.number} emailed to {email.to}."
