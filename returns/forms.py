from django import forms

from returns.models import FulfilmentType, ReturnAction


class ReturnChoiceForm(forms.Form):
    """The parts of a new return that are not per item."""

    action = forms.ModelChoiceField(queryset=None, required=False, empty_label="As the reason says")
    fulfilment_type = forms.ChoiceField(
        choices=[("", "No parcel (nothing to send back)"), *FulfilmentType.choices],
        required=False,
    )
    preferred_location_ref = forms.CharField(max_length=100, required=False)
    notify = forms.BooleanField(required=False, initial=True, label="Email the customer")

    def __init__(self, *args, retailer_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].queryset = ReturnAction.objects.filter(
            retailer_id=retailer_id, is_active=True
        )
