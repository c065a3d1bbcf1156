from django.urls import path

from returns import views

app_name = "returns"

urlpatterns = [
    path("", views.ReturnListView.as_view(), name="return_list"),
    path("export.csv", views.ReturnExportCsvView.as_view(), name="return_export_csv"),
    path("<int:pk>/", views.ReturnDetailView.as_view(), name="return_detail"),
    path("<int:pk>/release-refund/", views.ReleaseRefundView.as_view(), name="release_refund"),
    path("<int:pk>/attributes/", views.ReturnAttributeView.as_view(), name="attribute_set"),
    path(
        "<int:pk>/fulfilments/<int:fid>/",
        views.FulfilmentDetailView.as_view(),
        name="fulfilment_detail",
    ),
    path(
        "<int:pk>/fulfilments/<int:fid>/move/",
        views.FulfilmentMoveView.as_view(),
        name="fulfilment_move",
    ),
]
