from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "returns"

    def ready(self) -> None:
        from billing.services import on_settled
        from oms.global_search import register_search
        from oms.inbox import register_queue
        from oms.retailer_defaults import register_defaults
        from returns import queues
        from returns.search import search_returns
        from returns.services import return_config_ensure_defaults, return_refund_settled

        register_queue("returns.pending_refund", queues.pending_refund, position=40)
        register_search("returns", search_returns, position=20)
        register_defaults("returns.config", return_config_ensure_defaults, position=20)
        # a return's refund settles it; if that fails, the money movement stays recorded
        on_settled(return_refund_settled, aside=True)
