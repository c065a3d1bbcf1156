from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "returns"

    def ready(self) -> None:
        from oms.inbox import register_queue
        from returns import queues

        register_queue("returns.pending_refund", queues.pending_refund, position=40)
