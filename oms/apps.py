from django.apps import AppConfig


class OmsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oms"
    verbose_name = "Back office"

    def ready(self) -> None:
        from oms import health

        # the apps' checks follow these two (orders: intake at 30)
        health.register_check("database", health.check_database, position=10)
        health.register_check("broker", health.check_broker, position=20)
