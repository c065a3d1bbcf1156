from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order_list"),
    path("export.csv", views.OrderExportCsvView.as_view(), name="order_export_csv"),
    path("export.pdf", views.OrderExportPdfView.as_view(), name="order_export_pdf"),
    path("my-tasks/", views.MyTasksView.as_view(), name="my_tasks"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order_detail"),
    path("<int:pk>/comments/add/", views.CommentAddView.as_view(), name="comment_add"),
    path("<int:pk>/memos/add/", views.MemoAddView.as_view(), name="memo_add"),
    path("<int:pk>/tasks/add/", views.TaskAddView.as_view(), name="task_add"),
    path(
        "<int:pk>/tasks/<int:task_pk>/status/",
        views.TaskStatusView.as_view(),
        name="task_status",
    ),
    path("<int:pk>/<slug:tab>/", views.OrderDetailView.as_view(), name="order_tab"),
]
