"""Forms of the kernel's own pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from oms import bounds


class LoginForm(AuthenticationForm):
    """The login form; a username longer than any account's is refused like a wrong password,
    before anything looks it up or records a failed attempt under it."""

    def clean(self) -> dict[str, Any]:
        user_model = get_user_model()
        limit = bounds.text_limit(user_model, user_model.USERNAME_FIELD)
        username = self.cleaned_data.get("username") or ""
        if limit is not None and len(username) > limit:
            raise self.get_invalid_login_error()
        return super().clean()


class StyledForm(forms.Form):
    """A form whose fields render with the layout's classes (`{{ field }}` in a template), and
    show as invalid once they hold an error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        names = [field] if field else list(getattr(error, "error_dict", {}))
        for name in names:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def refuse(form: forms.Form, error: ValidationError) -> None:
    """Put a service's refusal on the form: by field where the form has it, else on top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)
