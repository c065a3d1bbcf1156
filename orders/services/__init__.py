"""Every write to orders and what hangs off them; views and tasks call these, nothing else writes.

Each service checks the role, checks the move against the state machine, locks the row, writes
the change and its activity in one transaction, and queues background work for after commit.
The workflows that cross apps (place, confirm, complete, cancel, cancel items, copy, ship) live
here and call down into fulfilments, returns and billing.
"""

from orders.services.holds import hold_rule_save, hold_rule_set_active, holds_apply, why_held
from orders.services.lifecycle import (
    AddressInput,
    Cancellation,
    LineInput,
    OrderInput,
    PaymentInput,
    check_move,
    check_resume,
    check_suspend,
    completion_blockers,
    fulfilment_lines_cancel,
    order_cancel,
    order_copy,
    order_hold_clear,
    order_hold_set,
    order_invoice_number_set,
    order_line_correct_quantity,
    order_lines_cancel,
    order_lines_replace,
    order_mark_not_paid,
    order_mark_paid,
    order_place,
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
    cancel_plan,
    order_payment_capture,
    order_payment_refund,
    order_payment_release,
    order_payment_retry,
    order_payment_status_refresh,
    order_payments_sync,
    payment_settled,
)
from orders.services.shipments import (
    fulfilment_moved,
    order_lines_update_shipment,
    order_mark_sent,
)
from orders.services.statuses import (
    order_status_create,
    order_status_delete,
    order_status_move,
    order_status_update,
    retailer_date_window_update,
)
from orders.services.tickets import ticket_close, ticket_customer_message, ticket_reply

__all__ = [
    "AddressInput",
    "Cancellation",
    "LineInput",
    "OrderInput",
    "PaymentInput",
    "cancel_plan",
    "check_move",
    "check_resume",
    "check_suspend",
    "comment_add",
    "completion_blockers",
    "fulfilment_lines_cancel",
    "fulfilment_moved",
    "hold_rule_save",
    "hold_rule_set_active",
    "holds_apply",
    "memo_add",
    "order_cancel",
    "order_copy",
    "order_hold_clear",
    "order_hold_set",
    "order_invoice_number_set",
    "order_line_correct_quantity",
    "order_lines_cancel",
    "order_lines_replace",
    "order_lines_update_shipment",
    "order_mark_not_paid",
    "order_mark_paid",
    "order_mark_sent",
    "order_notify_customer",
    "order_payment_capture",
    "order_payment_refund",
    "order_payment_release",
    "order_payment_reminder",
    "order_payment_retry",
    "order_payment_status_refresh",
    "order_payments_sync",
    "order_place",
    "order_resume",
    "order_set_status",
    "order_status_create",
    "order_status_delete",
    "order_status_move",
    "order_status_update",
    "order_statuses_ensure_defaults",
    "order_suspend",
    "payment_settled",
    "retailer_date_window_update",
    "task_add",
    "task_set_status",
    "ticket_close",
    "ticket_customer_message",
    "ticket_reply",
    "why_held",
]
