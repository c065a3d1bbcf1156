"""Forms of the customer edit page. They shape the input; `customers.services` checks it against
the bounds (`oms.bounds`) and says, per field, what is wrong."""

from __future__ import annotations

from typing import Any

from django import forms

from customers.models import Address, Customer
from customers.services import ADDRESS_FIELDS, DETAILS, language_choices
from oms import bounds
from oms.forms import StyledForm


def _text(model, name: str, label: str, *, required: bool = False, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        strip=True,
        max_length=bounds.text_limit(model, name),
        widget=forms.TextInput(attrs=attrs),
    )


def _choice(label: str, choices, *, required: bool = True) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=choices, required=required)


class CustomerForm(StyledForm):
    first_name = _text(Customer, "first_name", DETAILS["first_name"], autocomplete="off")
    last_name = _text(Customer, "last_name", DETAILS["last_name"], autocomplete="off")
    email = forms.CharField(
        label=DETAILS["email"],
        max_length=bounds.EMAIL_MAX,
        widget=forms.EmailInput(),
    )
    mobile = _text(Customer, "mobile", DETAILS["mobile"], type="tel")
    segment = _choice(DETAILS["segment"], Customer.Segment.choices)
    status = _choice(DETAILS["status"], Customer.Status.choices)
    language = _choice(DETAILS["language"], [], required=False)

    def __init__(self, *args: Any, retailer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = language_choices(retailer)
        self.fields["language"].help_text = "For invoices, packing slips and emails."

    @classmethod
    def of(cls, customer: Customer) -> CustomerForm:
        return cls(
            retailer=customer.retailer,
            initial={name: getattr(customer, name) for name in DETAILS},
        )


class AddressForm(StyledForm):
    """One address of the address book; `address` is its id, empty for a new one."""

    address = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20)
    name = _text(Address, "name", ADDRESS_FIELDS["name"], required=True)
    company = _text(Address, "company", ADDRESS_FIELDS["company"])
    line1 = _text(Address, "line1", ADDRESS_FIELDS["line1"], required=True)
    line2 = _text(Address, "line2", ADDRESS_FIELDS["line2"])
    postcode = _text(Address, "postcode", ADDRESS_FIELDS["postcode"], required=True)
    city = _text(Address, "city", ADDRESS_FIELDS["city"], required=True)
    region = _text(Address, "region", ADDRESS_FIELDS["region"])
    country = bounds.CountryField(
        label=ADDRESS_FIELDS["country"],
        help_text="ISO code or English name",
    )
    phone = _text(Address, "phone", ADDRESS_FIELDS["phone"], type="tel")

    @classmethod
    def of(cls, address: Address, **kwargs: Any) -> AddressForm:
        initial = {name: getattr(address, name) for name in ADDRESS_FIELDS}
        return cls(initial={"address": address.pk, **initial}, **kwargs)

    def values(self) -> dict[str, str]:
        return {name: self.cleaned_data[name] for name in ADDRESS_FIELDS}
