from django.urls import path

from fulfilments import settings_views as views

app_name = "fulfilment_settings"

urlpatterns = [
    path("locations/", views.LocationListView.as_view(), name="locations"),
    path("locations/<int:pk>/edit/", views.LocationEditView.as_view(), name="location_edit"),
    path("locations/<int:pk>/toggle/", views.LocationToggleView.as_view(), name="location_toggle"),
    path("carriers/", views.CarrierListView.as_view(), name="carriers"),
    path("carriers/<int:pk>/edit/", views.CarrierEditView.as_view(), name="carrier_edit"),
    path("carriers/<int:pk>/toggle/", views.CarrierToggleView.as_view(), name="carrier_toggle"),
]
