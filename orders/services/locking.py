from orders.models import Order, Payment


def lock_order(order: Order) -> Order:
    """Re-read the order under a row lock, with what its checks need."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("status", "suspended_from", "retailer", "customer")
        .get(pk=order.pk)
    )


def lock_payment(payment: Payment) -> Payment:
    return (
        Payment.objects.select_for_update(of=("self",)).select_related("order").get(pk=payment.pk)
    )
