from django.urls import path

from oms.views import EmptyStateView

app_name = "returns"

urlpatterns = [
    path(
        "",
        EmptyStateView.as_view(
            title="Returns",
            lead="Customer returns, cancellations and items that could not be fulfilled, from "
            "creation to refund.",
        ),
        name="return_list",
    ),
]
