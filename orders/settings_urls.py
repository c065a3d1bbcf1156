from django.urls import path

from orders.views import settings as views

app_name = "order_statuses"

urlpatterns = [
    path("", views.StatusListView.as_view(), name="list"),
    path("dates/", views.DateWindowView.as_view(), name="dates"),
    path("<int:pk>/edit/", views.StatusEditView.as_view(), name="edit"),
    path("<int:pk>/move/", views.StatusMoveView.as_view(), name="move"),
    path("<int:pk>/delete/", views.StatusDeleteView.as_view(), name="delete"),
]
