from django.urls import path

from oms.views import EmptyStateView

app_name = "orders"

urlpatterns = [
    path(
        "",
        EmptyStateView.as_view(
            title="Orders",
            lead="Every order of your retailers: find one by ref, customer, email or tracking "
            "number, filter by status and date, and open it to see everything about it.",
        ),
        name="order_list",
    ),
]
