from django.urls import path

from returns import settings_views as views

app_name = "return_config"

urlpatterns = [
    path("return-reasons/", views.ConfigListView.as_view(kind="reasons"), name="reasons"),
    path("return-actions/", views.ConfigListView.as_view(kind="actions"), name="actions"),
    path("return-conditions/", views.ConfigListView.as_view(kind="conditions"), name="conditions"),
    path("return-<slug:kind>/<int:pk>/edit/", views.ConfigEditView.as_view(), name="edit"),
    path("return-<slug:kind>/<int:pk>/toggle/", views.ConfigToggleView.as_view(), name="toggle"),
]
