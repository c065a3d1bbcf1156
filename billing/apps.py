from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        from billing import events  # noqa: F401 - registers how billing activity reads
        from billing.documents import invoice_attachment
        from oms.emails import register_attachment

        register_attachment("billing.invoice", invoice_attachment)
