from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from oms import metrics, views
from oms.forms import LoginForm

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("views/save/", views.SavedViewSaveView.as_view(), name="saved_view_save"),
    path("views/<int:pk>/delete/", views.SavedViewDeleteView.as_view(), name="saved_view_delete"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("orders/", include("orders.urls")),
    path("fulfilments/", include("fulfilments.urls")),
    path("returns/", include("returns.urls")),
    path("customers/", include("customers.urls")),
    path("billing/", include("billing.urls")),
    path("settings/", views.SettingsHomeView.as_view(), name="settings"),
    path("settings/order-statuses/", include("orders.settings_urls")),
    path("settings/hold-rules/", include("orders.hold_rule_urls")),
    path("settings/billing/", include("billing.settings_urls")),
    path("settings/", include("returns.settings_urls")),
    path("settings/", include("fulfilments.settings_urls")),
    path("settings/intake-channels/", include("orders.intake.settings_urls")),
    path("settings/webhooks/", include("oms.webhooks.urls")),
    path("intake/", include("orders.intake.urls")),
    path("api/", include("returns.api.urls")),
    path("api/", include("orders.api")),
    path("live/", include("oms.live.urls")),
    path("healthz", views.HealthzView.as_view(), name="healthz"),
    path("readyz", views.ReadyzView.as_view(), name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("django-admin/", admin.site.urls),
]

handler404 = "oms.errors.page_not_found"
handler500 = "oms.errors.server_error"
