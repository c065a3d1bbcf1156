from orders.models import Order, Payment


def lock_order(order: Order, *related: str) -> Order:
    """Re-read the order under a row lock, with what its checks need (and `related`).

    The lock is taken on the order alone, then the order is read with its joins: a locking read
    with joins that waited for another manager's change re-checks the joins against the rows it
    first saw, so an order whose status had just changed would vanish from it.
    """
    locked = list(Order.objects.select_for_update().filter(pk=order.pk).values_list("pk"))
    if not locked:
        raise Order.DoesNotExist(f"Order {order.pk} is gone.")
    return Order.objects.select_related(
        "status", "suspended_from", "retailer", "customer", *related
    ).get(pk=order.pk)


def lock_payment(payment: Payment) -> Payment:
    """Re-read the payment under a row lock (taken on the payment alone, as for the order)."""
    list(Payment.objects.select_for_update().filter(pk=payment.pk).values_list("pk"))
    return Payment.objects.select_related("order").get(pk=payment.pk)
