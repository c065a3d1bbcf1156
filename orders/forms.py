from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model

from billing.models import INVOICE_LANGUAGES, Invoice
from oms import bounds
from oms.bounds import MoneyField
from oms.models import Retailer
from orders.models import ShipmentStatus, Task
from orders.selectors import retailer_staff, status_choices


class _StaffChoiceMixin:
    """Offer only the staff of the order's retailer."""

    staff_fields: tuple[str, ...] = ()

    def __init__(self, *args, retailer_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        user_ids = retailer_staff(retailer_id).values_list("user_id", flat=True)
        staff = get_user_model().objects.filter(pk__in=user_ids).order_by("first_name", "username")
        for name in self.staff_fields:
            self.fields[name].queryset = staff
            self.fields[name].label_from_instance = lambda user: f"{user} ({user.username})"


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class MemoForm(_StaffChoiceMixin, forms.Form):
    staff_fields = ("recipient",)

    body = forms.CharField(label="Memo", max_length=500)
    recipient = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="For",
        empty_label="Everyone",
    )


class TaskForm(_StaffChoiceMixin, forms.Form):
    staff_fields = ("assignee",)

    description = forms.CharField(label="Task", max_length=500)
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Unassigned"
    )
    due_at = bounds.LocalDateTimeField(label="Due", required=False)
    status = forms.ChoiceField(choices=Task.Status.choices, initial=Task.Status.OPEN)

    def __init__(self, *args, retailer_id: int, **kwargs):
        super().__init__(*args, retailer_id=retailer_id, **kwargs)
        self.retailer_id = retailer_id

    def clean_due_at(self):
        """From the retailer's first date to ten years ahead: a reminder may lie further out
        than the dates an order carries."""
        return bounds.check_moment(
            self.cleaned_data.get("due_at"),
            Retailer.objects.filter(pk=self.retailer_id).first(),
            ahead_days=bounds.MOST_DAYS_AHEAD,
            what="the dates a task may be due",
        )


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Task.Status.choices)


class ConfirmForm(forms.Form):
    """An action that moves money or writes to the customer: the form must say it is confirmed."""

    confirm = forms.BooleanField(
        required=True, error_messages={"required": "Confirm the action first."}
    )


class StatusForm(forms.Form):
    status = forms.ModelChoiceField(queryset=None, empty_label=None)
    reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].queryset = status_choices(order)


class CancelForm(ConfirmForm):
    notify = forms.BooleanField(required=False, label="Email the customer")
    reason = forms.CharField(required=False, max_length=500)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class HoldForm(ReasonForm):
    flag = forms.ChoiceField(
        choices=[("documentation", "Missing documentation"), ("compliance", "Compliance")]
    )


class InvoiceNumberForm(forms.Form):
    invoice_number = forms.CharField(required=False, max_length=64)


class AmountForm(ConfirmForm):
    amount = MoneyField(min_value=Decimal("0.01"))


class ShipmentUpdateForm(forms.Form):
    lines = forms.ModelMultipleChoiceField(
        queryset=None, error_messages={"required": "Select the items to update."}
    )
    shipment_status = forms.ChoiceField(
        choices=[("", "Leave as it is"), *ShipmentStatus.choices], required=False
    )
    shipping_method = forms.CharField(required=False, max_length=100)
    tracking_number = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lines"].queryset = order.lines.all()


class MarkSentForm(ConfirmForm):
    tracking_number = forms.CharField(required=False, max_length=100)
    carrier = forms.CharField(required=False, max_length=100)


class NotifyForm(ConfirmForm):
    message = forms.CharField(max_length=5000, widget=forms.Textarea)


class InvoiceCreateForm(forms.Form):
    language = forms.ChoiceField(choices=INVOICE_LANGUAGES, required=False)


class InvoiceUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Invoice.Status.choices)
    delivery_time = forms.CharField(required=False, max_length=200)


class LinesCancelForm(ConfirmForm):
    lines = forms.ModelMultipleChoiceField(
        queryset=None, error_messages={"required": "Select the items to cancel."}
    )

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lines"].queryset = order.lines.all()


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=bounds.MAX_QUANTITY)


class TicketReplyForm(forms.Form):
    body = forms.CharField(max_length=5000)
