from django.apps import AppConfig


class FulfilmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfilments"

    def ready(self) -> None:
        from fulfilments import (
            events,  # noqa: F401 - registers how fulfilment activity reads
            queues,
        )
        from fulfilments.search import search_fulfilments
        from oms.global_search import register_search
        from oms.inbox import register_queue

        register_queue("fulfilments.escalated", queues.escalated, position=10)
        register_search("fulfilments", search_fulfilments, position=40)
