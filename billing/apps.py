from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        from billing import events  # noqa: F401 - registers how billing activity reads
        from billing import metrics as billing_metrics
        from billing.documents import invoice_attachment
        from billing.services.payments import on_settled
        from oms import metrics
        from oms.emails import register_attachment

        register_attachment("billing.invoice", invoice_attachment)
        # after the kernel's emails (10)
        metrics.register_outbox(
            "payment_operations",
            billing_metrics.pending_operations_backlog,
            position=20,
            readiness=True,
        )
        metrics.register_collector(
            "payment_operations", billing_metrics.operations_by_state, position=10
        )
        on_settled(billing_metrics.count_settled, aside=True)
