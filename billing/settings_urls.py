from django.urls import path

from billing import views

app_name = "billing_settings"

urlpatterns = [
    path("", views.BillingSettingsView.as_view(), name="edit"),
    path("seller/", views.SellerDetailsView.as_view(), name="seller"),
]
