from django.urls import path

from orders import views
from returns.views import ReturnCreateView

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order_list"),
    path("export.csv", views.OrderExportCsvView.as_view(), name="order_export_csv"),
    path("export.pdf", views.OrderExportPdfView.as_view(), name="order_export_pdf"),
    path("my-tasks/", views.MyTasksView.as_view(), name="my_tasks"),
    path("bulk/preview/", views.BulkPreviewView.as_view(), name="bulk_preview"),
    path("bulk/start/", views.BulkStartView.as_view(), name="bulk_start"),
    path("bulk/<int:pk>/", views.BulkJobView.as_view(), name="bulk_job"),
    path("bulk/<int:pk>/download/", views.BulkJobDownloadView.as_view(), name="bulk_download"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order_detail"),
    # notes
    path("<int:pk>/comments/add/", views.CommentAddView.as_view(), name="comment_add"),
    path("<int:pk>/memos/add/", views.MemoAddView.as_view(), name="memo_add"),
    path("<int:pk>/tasks/add/", views.TaskAddView.as_view(), name="task_add"),
    path(
        "<int:pk>/tasks/<int:task_pk>/status/", views.TaskStatusView.as_view(), name="task_status"
    ),
    # lifecycle
    path("<int:pk>/status/", views.SetStatusView.as_view(), name="set_status"),
    path("<int:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("<int:pk>/suspend/", views.SuspendView.as_view(), name="suspend"),
    path("<int:pk>/resume/", views.ResumeView.as_view(), name="resume"),
    path("<int:pk>/copy/", views.CopyView.as_view(), name="copy"),
    path("<int:pk>/hold/set/", views.HoldSetView.as_view(), name="hold_set"),
    path("<int:pk>/hold/clear/", views.HoldClearView.as_view(), name="hold_clear"),
    path("<int:pk>/mark-paid/", views.MarkPaidView.as_view(), name="mark_paid"),
    path("<int:pk>/mark-not-paid/", views.MarkNotPaidView.as_view(), name="mark_not_paid"),
    path("<int:pk>/invoice-number/", views.InvoiceNumberView.as_view(), name="invoice_number"),
    # payments
    path(
        "<int:pk>/payments/<int:payment_pk>/capture/",
        views.PaymentCaptureView.as_view(),
        name="payment_capture",
    ),
    path(
        "<int:pk>/payments/<int:payment_pk>/refund/",
        views.PaymentRefundView.as_view(),
        name="payment_refund",
    ),
    path(
        "<int:pk>/payments/<int:payment_pk>/void/",
        views.PaymentVoidView.as_view(),
        name="payment_void",
    ),
    path("<int:pk>/payments/sync/", views.PaymentsSyncView.as_view(), name="payments_sync"),
    path(
        "<int:pk>/transactions/<int:transaction_pk>/retry/",
        views.OperationRetryView.as_view(),
        name="operation_retry",
    ),
    # shipments and customer email
    path("<int:pk>/shipments/update/", views.ShipmentUpdateView.as_view(), name="shipment_update"),
    path("<int:pk>/sent/", views.MarkSentView.as_view(), name="mark_sent"),
    path("<int:pk>/notify/", views.NotifyCustomerView.as_view(), name="notify"),
    path(
        "<int:pk>/payment-reminder/", views.PaymentReminderView.as_view(), name="payment_reminder"
    ),
    path("<int:pk>/packing-slip.pdf", views.PackingSlipPdfView.as_view(), name="packing_slip"),
    # invoices
    path("<int:pk>/invoices/create/", views.InvoiceCreateView.as_view(), name="invoice_create"),
    path("<int:pk>/invoices.pdf", views.InvoicesPdfView.as_view(), name="invoices_pdf"),
    path(
        "<int:pk>/invoices/<int:invoice_pk>.pdf",
        views.InvoicesPdfView.as_view(),
        name="invoice_pdf",
    ),
    path(
        "<int:pk>/invoices/<int:invoice_pk>/update/",
        views.InvoiceUpdateView.as_view(),
        name="invoice_update",
    ),
    path(
        "<int:pk>/invoices/<int:invoice_pk>/resend/",
        views.InvoiceResendView.as_view(),
        name="invoice_resend",
    ),
    path(
        "<int:pk>/invoices/<int:invoice_pk>/credit-note/",
        views.CreditNoteView.as_view(),
        name="credit_note",
    ),
    path("<int:pk>/returns/new/", ReturnCreateView.as_view(), name="return_create"),
    path("<int:pk>/lines/cancel/", views.LinesCancelView.as_view(), name="lines_cancel"),
    path(
        "<int:pk>/lines/<int:line_pk>/quantity/",
        views.LineQuantityView.as_view(),
        name="line_quantity",
    ),
    path("<int:pk>/live/", views.OrderLiveView.as_view(), name="live"),
    path(
        "<int:pk>/tickets/<int:ticket_pk>/reply/",
        views.TicketReplyView.as_view(),
        name="ticket_reply",
    ),
    path(
        "<int:pk>/tickets/<int:ticket_pk>/close/",
        views.TicketCloseView.as_view(),
        name="ticket_close",
    ),
    path("<int:pk>/<slug:tab>/", views.OrderDetailView.as_view(), name="order_tab"),
]
