"""Forms of the kernel's own pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm

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
