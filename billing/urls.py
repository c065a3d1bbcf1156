from django.urls import path

from oms.views import EmptyStateView

app_name = "billing"

urlpatterns = [
    path(
        "accounts/",
        EmptyStateView.as_view(
            title="Billing accounts",
            lead="Billing accounts with their invoices, credit memos and debit memos.",
        ),
        name="account_list",
    ),
]
