from django import forms
from django.contrib.auth import get_user_model

from orders.models import Task
from orders.selectors import retailer_staff


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
    due_at = forms.DateTimeField(
        label="Due",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    status = forms.ChoiceField(choices=Task.Status.choices, initial=Task.Status.OPEN)


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Task.Status.choices)
