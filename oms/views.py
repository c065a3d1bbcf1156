"""Base views every page is built on, and the kernel's own pages.

Every list, detail, export and API view gets its queryset from `TenantScopedMixin`, which applies
`for_user` before anything else. A subclass narrows the rows in `scope_queryset`; overriding
`get_queryset` is refused when the class is defined, so the scoping cannot be skipped by accident.

Roles are held per retailer. A page's `required_role` is asked of the user's retailers twice: the
page opens when they hold it in at least one, and its rows are those of the retailers where they
hold it. A record of a retailer where they are a member without the role is refused (403, naming
the role); a record of a retailer they are not a member of stays a 404.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import DetailView, TemplateView
from django.views.generic.detail import SingleObjectMixin

from oms import health, saved_views
from oms.global_search import search_everything
from oms.inbox import lead_figures, work_queues
from oms.live import feed as live_feed
from oms.models import Retailer, SavedView, retailers_of
from oms.pagination import FastPaginator
from oms.roles import Role, has_role_anywhere, roles_of
from oms.tenancy import retailer_ids_for


def role_refusal(role: Role) -> PermissionDenied:
    return PermissionDenied(f"This page needs the {Role(role).label} role.")


class RoleRequiredMixin:
    """Refuse the page (403) to a user who holds `required_role` in none of their retailers.

    Most pages need only `Role.AGENT`: roles gate actions, not pages. Configuration pages need
    `Role.ADMIN`. Holding the role in one retailer opens the page, not the other retailers'
    records: `TenantScopedMixin` keeps to the retailers where the role is held, and per-record
    checks belong to the service that performs the action.
    """

    required_role: ClassVar[Role] = Role.AGENT

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_role_anywhere(request.user, self.required_role):
            raise role_refusal(self.required_role)
        return super().dispatch(request, *args, **kwargs)


class TenantScopedMixin(RoleRequiredMixin):
    """Rows of the retailers where the user holds `required_role` only; a record of another
    retailer is a 404, one of a retailer where the user lacks the role a 403.

    Look records up with `get_object()` (detail and action views) or `find(queryset, **lookup)`
    so that the refusal says which role is missing."""

    model: ClassVar[type | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.get_queryset is not TenantScopedMixin.get_queryset:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} gets get_queryset() from elsewhere than TenantScopedMixin, "
                "which would skip the retailer scoping. Put TenantScopedMixin first among the "
                "bases and narrow the rows in scope_queryset(qs)."
            )

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        """Narrow, annotate or prefetch the already-scoped rows. Override this, not get_queryset."""
        return queryset

    def get_queryset(self) -> QuerySet:
        if self.model is None:
            raise ImproperlyConfigured(f"{type(self).__qualname__} needs a model.")
        scoped = self.model._default_manager.for_user(self.request.user, role=self.required_role)
        return self.scope_queryset(scoped)

    def refuse_if_role_missing(self, **lookup: Any) -> None:
        """403 when the record the lookup names is of a retailer where the user is a member
        without `required_role`; a record the user may not know of is left to the 404."""
        if not lookup or self.model is None:
            return
        user = self.request.user
        lacking = set(retailer_ids_for(user, Role.AGENT)) - set(
            retailer_ids_for(user, self.required_role)
        )
        try:
            held = (
                lacking
                and self.model._default_manager.filter(retailer_id__in=lacking, **lookup).exists()
            )
        except (ValueError, TypeError, ValidationError):
            return
        if held:
            raise role_refusal(self.required_role)

    def find(self, queryset: QuerySet | None = None, **lookup: Any) -> Any:
        """The one record of `queryset` (the scoped rows by default) the lookup names: 404 when
        there is none, 403 when it is of a retailer where the user lacks the role."""
        queryset = self.get_queryset() if queryset is None else queryset
        try:
            found = queryset.filter(**lookup).first()
        except (ValueError, TypeError, ValidationError):
            found = None
        if found is None:
            self.refuse_if_role_missing(**lookup)
            raise Http404(f"No {queryset.model._meta.verbose_name} found matching the query.")
        return found

    def get_object(self, queryset: QuerySet | None = None) -> Any:
        """A detail or action view's record (`SingleObjectMixin`), with the role refusal."""
        try:
            return super().get_object(queryset)
        except Http404:
            pk = self.kwargs.get(getattr(self, "pk_url_kwarg", "pk"))
            if pk is not None:
                self.refuse_if_role_missing(pk=pk)
            raise


# columns that are tools rather than facts: never offered in the column chooser
ALWAYS_SHOWN = {"select"}


class HtmxResultsMixin:
    """A filtered list whose results region is swapped in place: an htmx request (a filter
    change, a sort or page link) gets only the template's `results` partial. Its table pages
    with `FastPaginator`: exact counts up to ten thousand, estimates beyond, deep pages cheap.

    A list naming itself (`list_name`, its URL name) also offers saved views and a choice of
    columns (`?cols=ref&cols=status`; the first column always shows)."""

    paginator_class = FastPaginator
    list_name: ClassVar[str] = ""
    list_label: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("list_name"):
            saved_views.LISTS[cls.list_name] = cls.list_label or cls.list_name

    def chosen_columns(self) -> list[str]:
        return [name for name in self.request.GET.getlist("cols") if name][:50]

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        chosen = set(self.chosen_columns())
        if chosen:
            first = next(c.name for c in table.columns if c.name not in ALWAYS_SHOWN)
            for column in list(table.columns):
                if column.name in ALWAYS_SHOWN:
                    continue
                if column.name != first and column.name not in chosen:
                    table.columns.hide(column.name)
        return table

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.list_name:
            context["list_tools"] = self.list_tools(context.get("table"))
        return context

    def list_tools(self, table) -> dict[str, Any]:
        user = self.request.user
        roles = roles_of(user)
        retailers = list(retailers_of(user))
        views = saved_views.views_shown(user, self.list_name)
        query = self.request.GET.copy()
        query.pop("page", None)
        columns = []
        if table is not None:
            first = next(c.name for c in table.columns if c.name not in ALWAYS_SHOWN)
            columns = [
                {
                    "name": column.name,
                    "header": column.header,
                    "shown": column.visible,
                    "fixed": column.name == first,
                }
                for column in table.columns.iterall()
                if column.name not in table.exclude and column.name not in ALWAYS_SHOWN
            ]
        return {
            "list_name": self.list_name,
            "list_url": self.request.path,
            "query": query.urlencode(),
            "params": [(k, v) for k, values in query.lists() if k != "cols" for v in values],
            "cols": self.chosen_columns(),
            "columns": columns,
            "views": views,
            "share_retailers": [r for r in retailers if roles[r.pk].includes(Role.MANAGER)],
            "retailers": retailers,
        }

    def paginate_queryset(self, queryset, page_size):
        """The table pages the list: the list view paging it as well would count it twice."""
        return None, None, queryset, False

    def get_template_names(self) -> list[str]:
        names = super().get_template_names()
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return [f"{names[0]}#results"]
        return names


class TenantDetailView(TenantScopedMixin, DetailView):
    """One record of the user's retailers."""


class ActionView(RoleRequiredMixin, View):
    """A state-changing endpoint: POST only, CSRF-checked, one service call in `post`."""

    http_method_names: ClassVar[list[str]] = ["post"]


class TenantObjectActionView(TenantScopedMixin, SingleObjectMixin, View):
    """A state-changing endpoint on one record of the user's retailers (404 for others).

    POST only; `post` loads the record with `self.get_object()` and calls one service.
    """

    http_method_names: ClassVar[list[str]] = ["post"]
    # what the action depends on: a change of these since its page was drawn refuses it
    # (oms/live/guard.py); empty for actions that never go stale (a comment)
    live_touches: ClassVar[frozenset[str]] = live_feed.STATE


class HomeView(TemplateView):
    template_name = "oms/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        roles = roles_of(self.request.user)
        retailers = retailers_of(self.request.user)
        context["memberships"] = [(retailer, roles[retailer.pk]) for retailer in retailers]
        if roles:
            context["queues"] = work_queues(self.request.user)
            context["figures"] = lead_figures(self.request.user)
        return context


class SearchView(View):
    """The top bar's search over every kind of record: as-you-type suggestions (htmx), the
    grouped results page, or straight to the one record matching exactly."""

    def get(self, request: HttpRequest) -> HttpResponse:
        results = search_everything(request, request.GET.get("q", ""))
        if getattr(request, "htmx", False):
            return render(request, "oms/_search_results.html", {"results": results})
        exact = results.only_exact
        if exact is not None and request.GET.get("list") != "1":
            return redirect(exact.url)
        return render(request, "oms/search.html", {"results": results})


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return redirect(target or "home")


class SavedViewSaveView(ActionView):
    """Save the list's current filters, sort and columns under a name."""

    def post(self, request: HttpRequest) -> HttpResponse:
        list_name = request.POST.get("list_name", "")
        try:
            retailer_id = int(request.POST.get("retailer") or 0) or min(roles_of(request.user))
            view = saved_views.save_view(
                by=request.user,
                retailer_id=retailer_id,
                list_name=list_name,
                name=request.POST.get("name", ""),
                query=request.POST.get("query", ""),
                shared=request.POST.get("shared") == "on",
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return _back(request, "/")
        except (ValueError, PermissionDenied) as error:
            messages.error(request, str(error) or "You may not save that view.")
            return _back(request, "/")
        messages.success(request, f"View “{view.name}” saved.")
        path = reverse(list_name)
        return redirect(f"{path}?{view.query}" if view.query else path)


class SavedViewDeleteView(TenantObjectActionView):
    model = SavedView

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        view = self.get_object()
        try:
            saved_views.delete_view(view=view, by=request.user)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return _back(request, "/")
        messages.success(request, f"View “{view.name}” deleted.")
        return _back(request, "/")


class EmptyStateView(RoleRequiredMixin, TemplateView):
    """A page whose capability has not landed yet: says so, and what it will hold."""

    template_name = "oms/empty_state.html"
    title = ""
    lead = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(title=self.title, lead=self.lead, **kwargs)


@method_decorator(login_not_required, name="dispatch")
class HealthzView(View):
    """Alive: the process answers."""

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"status": "ok"})


@method_decorator(login_not_required, name="dispatch")
class ReadyzView(View):
    """Ready: the database answers, the broker does when one is configured, and so do the
    checks the apps register."""

    def get(self, request: HttpRequest) -> JsonResponse:
        checks = health.readiness()
        ready = all(health.is_ready(answer) for answer in checks.values())
        return JsonResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status=200 if ready else 503,
        )


def admin_retailers(user) -> list[Retailer]:
    """The retailers the user administers."""
    roles = roles_of(user)
    return [r for r in retailers_of(user) if roles[r.pk].includes(Role.ADMIN)]


class AdminRetailerMixin(RoleRequiredMixin):
    """A configuration page of one retailer the user administers, chosen by ?retailer=<id>."""

    required_role = Role.ADMIN

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.retailers = admin_retailers(request.user)
        return super().dispatch(request, *args, **kwargs)

    @property
    def retailer(self) -> Retailer:
        wanted = self.request.POST.get("retailer") or self.request.GET.get("retailer")
        if not wanted:
            return self.retailers[0]
        for retailer in self.retailers:
            if str(retailer.pk) == wanted:
                return retailer
        if wanted in {str(pk) for pk in roles_of(self.request.user)}:
            raise role_refusal(self.required_role)
        raise Http404("No such retailer among those you administer.")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(retailers=self.retailers, retailer=self.retailer, **kwargs)


class SettingsHomeView(AdminRetailerMixin, TemplateView):
    template_name = "oms/settings.html"
