from django.apps import AppConfig


class FulfilmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfilments"

    def ready(self) -> None:
        from fulfilments import (
            events,  # noqa: F401 - registers how fulfilment activity reads
            queues,
        )
        from oms.inbox import register_queue

        register_queue("fulfilments.escalated", queues.escalated, position=10)
