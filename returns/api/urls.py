from django.urls import path

from returns.api import docs, views

app_name = "returns_api"

urlpatterns = [
    path("v4.1/return", views.ReturnCollectionView.as_view(), name="returns"),
    path("v4.1/return/<str:return_id>", views.ReturnDetailView.as_view(), name="return"),
    path(
        "v4.1/order/<str:order_id>/return", views.OrderReturnsView.as_view(), name="order_returns"
    ),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.DocsView.as_view(), name="docs"),
]
