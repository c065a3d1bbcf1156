from django.urls import path

from billing import views, webhooks

app_name = "billing"

urlpatterns = [
    path("accounts/", views.AccountListView.as_view(), name="account_list"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<int:pk>/status/", views.AccountStatusView.as_view(), name="account_status"),
    path(
        "accounts/<int:pk>/attribute/",
        views.AccountAttributeView.as_view(),
        name="account_attribute",
    ),
    path("accounts/<int:pk>/debit-memo/", views.DebitMemoView.as_view(), name="debit_memo"),
    path(
        "accounts/<int:pk>/invoices/<int:invoice_pk>/email/",
        views.AccountInvoiceEmailView.as_view(),
        name="account_invoice_email",
    ),
    path("stripe/webhook/", webhooks.StripeWebhookView.as_view(), name="stripe_webhook"),
]
