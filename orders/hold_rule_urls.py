from django.urls import path

from orders.views import holds as views

app_name = "hold_rules"

urlpatterns = [
    path("", views.HoldRuleListView.as_view(), name="list"),
    path("<int:pk>/edit/", views.HoldRuleEditView.as_view(), name="edit"),
    path("<int:pk>/active/", views.HoldRuleActiveView.as_view(), name="active"),
]
