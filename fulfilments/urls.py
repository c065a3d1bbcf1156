from django.urls import path

from fulfilments import views

app_name = "fulfilments"

urlpatterns = [
    path("", views.FulfilmentListView.as_view(), name="fulfilment_list"),
    path("escalated/", views.EscalatedListView.as_view(), name="escalated_list"),
    path("stock/", views.StockView.as_view(), name="stock"),
    path("<int:pk>/", views.FulfilmentDetailView.as_view(), name="fulfilment_detail"),
    path("<int:pk>/move/", views.FulfilmentMoveView.as_view(), name="move"),
    path("<int:pk>/retry/", views.FulfilmentRetryView.as_view(), name="retry"),
    path("<int:pk>/assign/", views.FulfilmentAssignView.as_view(), name="assign"),
    path("<int:pk>/cancel-lines/", views.FulfilmentCancelLinesView.as_view(), name="cancel_lines"),
]
