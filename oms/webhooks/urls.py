from django.urls import path

from oms.webhooks import views

app_name = "webhook_settings"

urlpatterns = [
    path("", views.EndpointListView.as_view(), name="list"),
    path("<int:pk>/edit/", views.EndpointEditView.as_view(), name="edit"),
    path("<int:pk>/toggle/", views.EndpointToggleView.as_view(), name="toggle"),
    path("<int:pk>/rotate-secret/", views.EndpointRotateSecretView.as_view(), name="rotate"),
    path("<int:pk>/delete/", views.EndpointDeleteView.as_view(), name="delete"),
    path("<int:pk>/deliveries/", views.DeliveryListView.as_view(), name="endpoint_deliveries"),
    path("deliveries/", views.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<int:pk>/", views.DeliveryDetailView.as_view(), name="delivery"),
    path(
        "deliveries/<int:pk>/redeliver/",
        views.DeliveryRedeliverView.as_view(),
        name="redeliver",
    ),
]
