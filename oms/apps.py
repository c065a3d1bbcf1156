from django.apps import AppConfig


class OmsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oms"
    verbose_name = "Back office"

    def ready(self) -> None:
        from oms import health, metrics

        # the apps' checks follow these two (orders: intake at 30), then the outboxes' age
        health.register_check("database", health.check_database, position=10)
        health.register_check("broker", health.check_broker, position=20)
        health.register_check("outbox", health.check_outbox_age, position=90)
        # the apps' outboxes follow (billing: payment operations at 20, orders: 30 and 40)
        metrics.register_outbox("emails", health.emails_backlog, position=10, readiness=True)
        metrics.connect_signals()
