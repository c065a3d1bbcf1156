"""The money questions, each answered in one place: what can still be captured, released or
refunded, what an order still owes, what it is paid, what a cancellation would move, and what a
share of a line is worth. Pages, services and checks all ask here.

Every movement of money is a row of the ledger (`PaymentTransaction`): a capture, refund or
release through the gateway, or a refund given by hand. Operations on their way (pending) or
timed out (the gateway may have done them) are counted as if they had happened, so nothing is
asked for twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, CharField, Q, Sum, Value, When
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual

from billing.models import Payment, PaymentStatus, PaymentTransaction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
Kind = PaymentTransaction.Kind
Status = PaymentTransaction.Status

# operations whose money may still move: on their way, or timed out without an answer
UNSETTLED = Q(status=Status.PENDING) | Q(status=Status.FAILED, error_code="unavailable")


@dataclass(frozen=True)
class Balance:
    """Where one payment stands, counting operations still on their way."""

    payment: Payment
    capturing: Decimal = ZERO  # captures on their way or timed out
    refunding: Decimal = ZERO
    releasing: Decimal = ZERO

    @property
    def capturable(self) -> Decimal:
        """What may still be captured (or released): authorised, less what was captured,
        released, or is on its way to be."""
        p = self.payment
        return max(ZERO, p.authorised - p.voided - p.captured - self.capturing - self.releasing)

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded: captured, less refunds through the gateway, refunds by
        hand and refunds on their way."""
        p = self.payment
        return max(ZERO, p.captured - p.refunded - p.refunded_by_hand - self.refunding)

    @property
    def settled(self) -> bool:
        return not (self.capturing or self.refunding or self.releasing)


def balances(payments: Iterable[Payment]) -> list[Balance]:
    """Each payment's balance, with one query for the operations still on their way."""
    payments = list(payments)
    if not payments:
        return []
    moving: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    rows = (
        PaymentTransaction.objects.filter(UNSETTLED, payment__in=payments)
        .values_list("payment_id", "kind")
        .annotate(total=Sum("amount"))
    )
    for payment_id, kind, total in rows:
        moving[payment_id][kind] += total
    return [
        Balance(
            payment,
            capturing=moving[payment.pk][Kind.CAPTURE],
            refunding=moving[payment.pk][Kind.REFUND],
            releasing=moving[payment.pk][Kind.VOID],
        )
        for payment in payments
    ]


def balance(payment: Payment) -> Balance:
    return balances([payment])[0]


def capturable(payment: Payment) -> Decimal:
    """What may still be captured of the payment (the same amount may be released instead)."""
    return balance(payment).capturable


def refundable(payment: Payment) -> Decimal:
    """What may still be refunded of the payment, through the gateway or by hand."""
    return balance(payment).refundable


def order_refundable(order) -> Decimal:
    """What may still be refunded over all of the order's payments."""
    return sum((b.refundable for b in balances(order.payments.all())), ZERO)


def refundable_by_method(payments) -> list[dict]:
    """What can still be refunded of these payments (a queryset), by payment method and
    currency, as `Balance.refundable` counts it: summed by the database, so a customer with a
    thousand orders costs two small queries."""
    labels = dict(Payment.Method.choices)
    refunding = {
        (method, currency): total
        for method, currency, total in PaymentTransaction.objects.filter(
            UNSETTLED, kind=Kind.REFUND, payment__in=payments.values("pk")
        )
        .order_by()
        .values_list("payment__method", "payment__currency")
        .annotate(total=Sum("amount"))
    }
    totals = (
        payments.order_by()
        .values("method", "currency")
        .annotate(
            captured=Sum("captured"), refunded=Sum("refunded"), by_hand=Sum("refunded_by_hand")
        )
        .order_by("method", "currency")
    )
    return [
        {
            "method": labels.get(row["method"], row["method"]),
            "currency": row["currency"],
            "captured": row["captured"],
            "refunded": row["refunded"] + row["by_hand"],
            "refundable": max(
                ZERO,
                row["captured"]
                - row["refunded"]
                - row["by_hand"]
                - refunding.get((row["method"], row["currency"]), ZERO),
            ),
        }
        for row in totals
    ]


def paid(payments: Iterable[Payment]) -> Decimal:
    """What the customer has paid and not had back."""
    return sum((p.captured - p.refunded - p.refunded_by_hand for p in payments), ZERO)


def cancelled_share(line, amount: Decimal) -> Decimal:
    """What the line's cancelled units take of one of its amounts (as their refund does)."""
    return share(amount, line.quantity, 0, line.cancelled)


def worth_kept(order) -> Decimal:
    """What the order charges for once its cancelled units are taken off: its total less each
    line's share for them (`share`, as their refund takes it); nothing when every unit is
    cancelled."""
    lines = list(order.lines.all())
    if lines and all(line.cancelled >= line.quantity for line in lines):
        return ZERO
    cancelled = sum((cancelled_share(line, line.total) for line in lines), ZERO)
    return order.total - cancelled


def owed(order) -> Decimal:
    """What the order still owes: its total less what was paid and not given back."""
    return max(ZERO, order.total - paid(order.payments.all()))


def payment_status_of(order) -> str:
    """The order's payment status as its payments add up."""
    payments = list(order.payments.all())
    captured = sum((p.captured for p in payments), ZERO)
    refunded = sum((p.refunded + p.refunded_by_hand for p in payments), ZERO)
    open_authorisation = sum((p.authorised - p.voided - p.captured for p in payments), ZERO)
    return payment_status_for(
        captured=captured,
        refunded=refunded,
        open_authorisation=open_authorisation,
        total=order.total,
    )


def payment_status_for(
    *, captured: Decimal, refunded: Decimal, open_authorisation: Decimal, total: Decimal
) -> str:
    """The payment status of an order whose payments captured, gave back (through the gateway
    and by hand) and hold authorised these amounts, for its total."""
    if refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
    if captured > 0:
        return PaymentStatus.PAID if captured >= total else PaymentStatus.PARTIALLY_PAID
    if open_authorisation > 0:
        return PaymentStatus.AUTHORISED
    return PaymentStatus.NOT_PAID


def payment_status_expression(*, captured, refunded, open_authorisation, total) -> Case:
    """`payment_status_for` in SQL, over expressions for the same amounts: the same rule, step
    for step, so a check can compare millions of orders in one query."""

    def either(when, then, otherwise) -> Case:
        return Case(When(when, then=Value(then)), default=Value(otherwise), output_field=text)

    text = CharField()
    return Case(
        When(
            GreaterThan(refunded, 0),
            then=either(
                GreaterThanOrEqual(refunded, captured),
                PaymentStatus.REFUNDED,
                PaymentStatus.PARTIALLY_REFUNDED,
            ),
        ),
        When(
            GreaterThan(captured, 0),
            then=either(
                GreaterThanOrEqual(captured, total),
                PaymentStatus.PAID,
                PaymentStatus.PARTIALLY_PAID,
            ),
        ),
        When(GreaterThan(open_authorisation, 0), then=Value(PaymentStatus.AUTHORISED)),
        default=Value(PaymentStatus.NOT_PAID),
        output_field=text,
    )


@dataclass(frozen=True)
class Settlement:
    """What cancelling an order moves now, payment by payment, and what waits on operations
    still on their way (settled when they are: a capture that went through is refunded, one
    that did not is released)."""

    moves: list[tuple[Payment, Decimal, Decimal]] = field(default_factory=list)
    waiting: Decimal = ZERO

    @property
    def refund(self) -> Decimal:
        return sum((refund for _, refund, _ in self.moves), ZERO)

    @property
    def release(self) -> Decimal:
        return sum((release for _, _, release in self.moves), ZERO)


def settlement(payments: Iterable[Payment]) -> Settlement:
    """What a cancellation refunds and releases of these payments: every refundable amount and
    every capturable one. Both the cancel dialog and the cancellation ask this."""
    return settlement_of(balances(payments))


def settlement_of(each_balance: Iterable[Balance]) -> Settlement:
    """`settlement`, from balances already read."""
    moves, waiting = [], ZERO
    for each in each_balance:
        moves.append((each.payment, each.refundable, each.capturable))
        waiting += each.capturing + each.refunding + each.releasing
    return Settlement([m for m in moves if m[1] > 0 or m[2] > 0], waiting)


def refunds_of_return(ret) -> tuple[Decimal, Decimal, Decimal]:
    """What a return's refunds paid through the gateway, paid by hand, and have on their way."""
    rows = ret.refunds.values_list("kind", "status", "error_code").annotate(total=Sum("amount"))
    gateway = by_hand = moving = ZERO
    for kind, status, error_code, total in rows:
        if status == Status.SUCCEEDED:
            if kind == Kind.MANUAL_REFUND:
                by_hand += total
            else:
                gateway += total
        elif status == Status.PENDING or error_code == "unavailable":
            moving += total
    return gateway, by_hand, moving


def share(total: Decimal, quantity: int, before: int, count: int) -> Decimal:
    """What `count` units of a line worth `total` for `quantity` units are worth, after `before`
    of its units were taken already: each unit at its share, the last one taking the remainder,
    so the shares of all units add up to the total, to the cent."""
    if quantity <= 0 or count <= 0:
        return ZERO
    upto = min(quantity, before + count)

    def cumulative(units: int) -> Decimal:
        return (total * units / quantity).quantize(CENT, ROUND_HALF_UP)

    return cumulative(upto) - cumulative(min(before, upto))
