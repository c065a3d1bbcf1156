from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="customer_list"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("<int:pk>/edit/", views.CustomerEditView.as_view(), name="customer_edit"),
    path("<int:pk>/addresses/", views.AddressSaveView.as_view(), name="address_save"),
    path("<int:pk>/addresses/remove/", views.AddressRemoveView.as_view(), name="address_remove"),
]
