from django.urls import path

from oms.views import EmptyStateView

app_name = "customers"

urlpatterns = [
    path(
        "",
        EmptyStateView.as_view(
            title="Customers",
            lead="Your customers with their contact details, addresses, orders and returns.",
        ),
        name="customer_list",
    ),
]
