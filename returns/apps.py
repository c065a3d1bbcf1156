from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "returns"

    def ready(self) -> None:
        from oms.global_search import register_search
        from oms.inbox import register_queue
        from returns import queues
        from returns.search import search_returns

        register_queue("returns.pending_refund", queues.pending_refund, position=40)
        register_search("returns", search_returns, position=20)
