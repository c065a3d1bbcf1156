from django.urls import path

from oms.views import EmptyStateView

app_name = "fulfilments"

urlpatterns = [
    path(
        "",
        EmptyStateView.as_view(
            title="Fulfilments",
            lead="Fulfilments sourced from your locations: what is picked, packed and shipped "
            "from where.",
        ),
        name="fulfilment_list",
    ),
    path(
        "escalated/",
        EmptyStateView.as_view(
            title="Escalated fulfilments",
            lead="Fulfilments that could not be sourced within your rules, waiting for a "
            "manager's decision.",
        ),
        name="escalated_list",
    ),
]
