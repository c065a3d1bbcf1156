from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        from billing.services import on_settled
        from fulfilments.services import on_moved
        from oms.global_search import register_search
        from oms.health import register_check
        from oms.inbox import register_figures, register_queue
        from oms.metrics import register_collector, register_outbox
        from oms.retailer_defaults import register_defaults
        from oms.roles import Role
        from orders import (
            events,  # noqa: F401 - registers how order activity reads
            figures,
            health,
            metrics,
            queues,
        )
        from orders.search import search_orders
        from orders.services import (
            fulfilment_moved,
            order_statuses_ensure_defaults,
            payment_settled,
        )

        # positions leave gaps for the queues of fulfilments (10) and returns (40)
        register_queue("orders.payment_failed", queues.payment_failed, position=20)
        register_queue("orders.at_risk", queues.at_risk_of_being_late, position=30)
        register_queue("orders.unanswered", queues.unanswered, position=50)
        register_queue("orders.on_hold", queues.on_hold, position=60)
        register_queue("orders.awaiting_payment", queues.awaiting_payment, position=70)
        register_queue("orders.intake_failed", queues.intake_failed, position=80, role=Role.MANAGER)
        register_queue("orders.my_tasks", queues.my_tasks, position=90)
        register_figures(figures.lead_figures)
        # the orders group first, then returns (20), customers (30) and fulfilments (40)
        register_search("orders", search_orders, position=10)
        # after the kernel's database (10) and broker (20)
        register_check("intake", health.intake_backlog, position=30)
        # after the kernel's emails (10) and billing's payment operations (20)
        register_outbox("intake_messages", metrics.intake_backlog, position=30)
        register_outbox("bulk_jobs", metrics.bulk_jobs_backlog, position=40)
        register_collector("intake", metrics.intake_per_channel, position=20)
        # a new retailer's statuses first, then returns' configuration (20)
        register_defaults("orders.statuses", order_statuses_ensure_defaults, position=10)
        # what follows money that moved and parcels that left, told by the apps below
        on_settled(payment_settled)
        on_moved(fulfilment_moved)
