"""Walk the URL configuration, so the safety-net tests cover every new page without edits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

# Django's own admin has its own login and permissions; the walker leaves it to Django.
SKIPPED_NAMESPACES = {"admin"}

# Pages anyone may reach without logging in.
PUBLIC_URL_NAMES = {
    "login",
    "healthz",
    "readyz",
    "returns_api:schema",
    "returns_api:docs",
    # channels sign their messages (HMAC) instead of logging in
    "intake:receive",
    # Stripe signs its webhook events with the endpoint's secret
    "billing:stripe_webhook",
    # Prometheus scrapes with a bearer token or from an allowed network (403 otherwise)
    "metrics",
}

# What a page's script reads or tells (oms/live), never a page a browser opens by itself.
SCRIPT_ENDPOINTS = {"live:stream", "live:poll", "live:presence"}

# JSON APIs authenticate each request themselves (bearer token): no login page, a 401.
API_NAMESPACES = {"returns_api", "storefront_api"}

# A placeholder value for each converter, for URLs reached before any lookup happens.
PLACEHOLDER_BY_CONVERTER = {
    "IntConverter": 999_999_999,
    "StringConverter": "x",
    "SlugConverter": "x",
    "UUIDConverter": "00000000-0000-0000-0000-000000000000",
    "PathConverter": "x",
}


@dataclass(frozen=True)
class Route:
    name: str
    converters: dict[str, Any]
    callback: Callable

    @property
    def kwarg_names(self) -> tuple[str, ...]:
        return tuple(self.converters)

    @property
    def view_class(self) -> type | None:
        return getattr(self.callback, "view_class", None)

    @property
    def is_state_changing(self) -> bool:
        """A view that accepts no GET: it changes state, so it must refuse GET and need CSRF."""
        view_class = self.view_class
        return view_class is not None and (
            "get" not in view_class.http_method_names or not hasattr(view_class, "get")
        )

    @property
    def is_public(self) -> bool:
        return self.name in PUBLIC_URL_NAMES

    @property
    def is_script_endpoint(self) -> bool:
        return self.name in SCRIPT_ENDPOINTS

    @property
    def is_api(self) -> bool:
        return self.name.split(":")[0] in API_NAMESPACES

    def placeholder_kwargs(self) -> dict[str, Any]:
        return {
            key: PLACEHOLDER_BY_CONVERTER[type(converter).__name__]
            for key, converter in self.converters.items()
        }

    def __str__(self) -> str:
        return self.name


def walk(urlconf: str | None = None) -> list[Route]:
    """Every named route of the URL configuration, with its converters."""
    routes: list[Route] = []

    def visit(patterns, namespace: str | None, converters: dict[str, Any]) -> None:
        for entry in patterns:
            here = {**converters, **entry.pattern.converters}
            if isinstance(entry, URLResolver):
                ns = entry.namespace
                if ns in SKIPPED_NAMESPACES:
                    continue
                full_ns = ":".join(filter(None, [namespace, ns]))
                visit(entry.url_patterns, full_ns or None, here)
            elif isinstance(entry, URLPattern):
                if entry.name is None:
                    raise AssertionError(f"URL pattern {entry.pattern} has no name: name it.")
                full = f"{namespace}:{entry.name}" if namespace else entry.name
                routes.append(Route(full, here, entry.callback))

    visit(get_resolver(urlconf).url_patterns, None, {})
    return routes
