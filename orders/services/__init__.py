"""Every write to orders and what hangs off them; views and tasks call these, nothing else writes.

Each service checks the role, checks the move against the state machine, locks the row, writes
the change and its activity in one transaction, and queues background work for after commit.
"""

from orders.services.lifecycle import (
    order_cancel,
    order_copy,
    order_hold_clear,
    order_hold_set,
    order_invoice_number_set,
    order_line_correct_quantity,
    order_lines_cancel,
    order_mark_not_paid,
    order_mark_paid,
    order_resume,
    order_set_status,
    order_suspend,
)
from orders.services.mail import order_notify_customer, order_payment_reminder
from orders.services.notes import (
    comment_add,
    memo_add,
    order_statuses_ensure_defaults,
    task_add,
    task_set_status,
)
from orders.services.payments import (
    payment_capture,
    payment_operation_retry,
    payment_operation_run,
    payment_refund,
    payment_void,
    payments_sync,
)
from orders.services.shipments import order_lines_update_shipment, order_mark_sent
from orders.services.statuses import (
    order_status_create,
    order_status_delete,
    order_status_move,
    order_status_update,
)
from orders.services.tickets import ticket_close, ticket_customer_message, ticket_reply

__all__ = [
    "comment_add",
    "memo_add",
    "order_cancel",
    "order_copy",
    "order_hold_clear",
    "order_hold_set",
    "order_invoice_number_set",
    "order_line_correct_quantity",
    "order_lines_cancel",
    "order_lines_update_shipment",
    "order_mark_not_paid",
    "order_mark_paid",
    "order_mark_sent",
    "order_notify_customer",
    "order_payment_reminder",
    "order_resume",
    "order_set_status",
    "order_status_create",
    "order_status_delete",
    "order_status_move",
    "order_status_update",
    "order_statuses_ensure_defaults",
    "order_suspend",
    "payment_capture",
    "payment_operation_retry",
    "payment_operation_run",
    "payment_refund",
    "payment_void",
    "payments_sync",
    "task_add",
    "task_set_status",
    "ticket_close",
    "ticket_customer_message",
    "ticket_reply",
]
