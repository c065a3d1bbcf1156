"""Load the demo data: retailers acme and globex, their staff, customers and orders.

Safe to run again: rows are found by their natural keys (retailer ref, username, customer ref,
order ref), so a second run creates nothing and changes nothing. A larger --orders adds the
orders that are missing.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import factory
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing.ledger import share
from billing.models import (
    BillingAccount,
    DebitMemo,
    Payment,
    PaymentStatus,
    PaymentTransaction,
    SimulatedGatewayRecord,
)
from billing.services import invoices_on_paid
from customers.models import Customer
from fulfilments import services as sourcing
from fulfilments.models import Carrier, Fulfilment, FulfilmentItem, Location, StockPosition
from oms import activity, rls
from oms.models import Activity
from oms.roles import Role
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_process
from orders.models import (
    Channel,
    Order,
    OrderType,
    Shipment,
    ShipmentStatus,
    SystemState,
    Task,
    Ticket,
    TicketMessage,
)
from returns.models import Return, ReturnCondition, ReturnFulfilment, ReturnItem, ReturnReason
from tests.factories import (
    AddressFactory,
    CommentFactory,
    CustomerFactory,
    MembershipFactory,
    MemoFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    PaymentTransactionFactory,
    RetailerFactory,
    ShipmentEventFactory,
    ShipmentFactory,
    TaskFactory,
    UserFactory,
    recalculate_totals,
    status_for,
)

RETAILERS = [
    {
        "ref": "acme",
        "name": "Acme Outfitters",
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "languages": ["en", "nl", "de"],
    },
    {
        "ref": "globex",
        "name": "Globex Home",
        "currency": "GBP",
        "time_zone": "Europe/London",
        "languages": ["en"],
    },
]

# username, first name, last name, memberships as (retailer ref, role)
USERS = [
    ("agent", "Ada", "Agent", [("acme", Role.AGENT)]),
    ("manager", "Max", "Manager", [("acme", Role.MANAGER)]),
    ("admin", "Alex", "Admin", [("acme", Role.ADMIN)]),
    ("globex.agent", "Greta", "Globex", [("globex", Role.AGENT)]),
    ("multi.agent", "Milo", "Multi", [("acme", Role.AGENT), ("globex", Role.AGENT)]),
]

CATALOGUE = {
    "acme": [
        ("ACM-TRAIL-42", "Trail running shoe, size 42", "119.95"),
        ("ACM-JKT-M", "Waterproof shell jacket, M", "189.00"),
        ("ACM-SOCK-3P", "Merino hiking socks, 3 pairs", "29.95"),
        ("ACM-PACK-30", "Day pack 30 L", "84.50"),
        ("ACM-BOTTLE", "Insulated bottle 750 ml", "24.95"),
        ("ACM-HEADL", "Head torch 400 lm", "44.00"),
        ("ACM-TENT-2", "Two-person tent", "329.00"),
        ("ACM-BOOK-NL", "Hiking guide Netherlands", "19.99"),
    ],
    "globex": [
        ("GLX-KETTLE", "Stainless steel kettle", "49.99"),
        ("GLX-TOWEL-4", "Cotton bath towels, set of 4", "36.00"),
        ("GLX-LAMP-OAK", "Oak table lamp", "79.00"),
        ("GLX-PAN-28", "Non-stick frying pan 28 cm", "32.50"),
        ("GLX-DUVET-K", "King size duvet", "119.00"),
        ("GLX-MUGS-6", "Stoneware mugs, set of 6", "24.00"),
    ],
}
TAX_RATES = {
    "acme": [Decimal("21.00"), Decimal("21.00"), Decimal("9.00")],
    "globex": [Decimal("20.00")],
}
CARRIERS = {"acme": ["PostNL", "DHL", "DPD"], "globex": ["Royal Mail", "DPD", "Evri"]}
STORES = {"acme": ["Acme Utrecht Centrum", "Acme Amsterdam Zuid"], "globex": ["Globex Leeds"]}
COUNTRIES = {"acme": "NL", "globex": "GB"}
LOCALES = {"acme": "nl_NL", "globex": "en_GB"}
STATE_WEIGHTS = [
    (SystemState.NEW, 20),
    (SystemState.PROCESSING, 25),
    (SystemState.COMPLETED, 35),
    (SystemState.CANCELLED, 8),
    (SystemState.FRAUD, 3),
    (SystemState.SUSPENDED, 9),
]
COMMENTS = [
    "Customer called to ask when the parcel arrives; gave them the tracking link.",
    "Address checked with the customer: correct.",
    "Customer asked to leave the parcel with the neighbours at no. 12.",
    "Chased the carrier about the delay.",
    "Customer asked for a gift receipt.",
]
TASKS = [
    "Call the customer back about the delivery date",
    "Check the stock of the replacement item",
    "Confirm the refund with finance",
    "Request proof of identity",
]
CENT = Decimal("0.01")


class Command(BaseCommand):
    help = "Create the demo retailers, users, customers and orders (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--orders", type=int, default=150, help="Orders per retailer (default 150)."
        )

    def handle(self, *args, **options):
        rls.use_all_retailers()  # a command works across retailers
        with transaction.atomic():
            retailers, users = self._people()
        created = 0
        for retailer in retailers.values():
            staff = [u for name, u in users.items() if name in ("agent", "manager", "globex.agent")]
            staff = [u for u in staff if u.memberships.filter(retailer=retailer).exists()]
            with factory.Faker.override_default_locale(LOCALES[retailer.ref]):
                created += DemoOrders(retailer, staff).seed(options["orders"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(retailers)} retailers, {len(USERS)} users, "
                f"{created} new orders."
            )
        )

    def _people(self):
        retailers = {spec["ref"]: RetailerFactory(**spec) for spec in RETAILERS}
        users = {}
        for username, first, last, memberships in USERS:
            users[username] = UserFactory(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@oms.localhost",
            )
            for ref, role in memberships:
                MembershipFactory(user=users[username], retailer=retailers[ref], role=role)
        return retailers, users


class DemoOrders:
    """Orders of one retailer in every state, with the history an agent would find."""

    def __init__(self, retailer, staff):
        self.retailer = retailer
        self.staff = staff
        self.now = timezone.now()
        self.prefix = retailer.ref.upper()[:3]

    def seed(self, count: int) -> int:
        """The retailer's demo orders, each in a transaction of its own (as its changes would
        be made), after the network, channels, customers and accounts."""
        self._intake()  # each message is processed in a transaction of its own
        with transaction.atomic():
            self._network()
            customers = self._customers(max(10, count // 3))
            self._accounts(customers)
        existing = set(Order.objects.filter(retailer=self.retailer).values_list("ref", flat=True))
        created = 0
        for number in range(1, count + 1):
            ref = f"{self.prefix}-{100000 + number}"
            if ref in existing:
                continue
            rng = random.Random(f"{self.retailer.ref}:{number}")
            with transaction.atomic():
                self._order(ref, number, rng, customers[rng.randrange(len(customers))])
            created += 1
        return created

    def _accounts(self, customers: list[Customer]) -> None:
        """Billing accounts for business customers and a few others, some with debit memos."""
        for customer in customers:
            if customer.segment != "business" and customer.pk % 7:
                continue
            account, created = BillingAccount.objects.get_or_create(
                retailer=self.retailer,
                ref=f"BA-{customer.ref}",
                defaults={
                    "name": f"{customer.last_name} {'BV' if self.retailer.ref == 'acme' else 'Ltd'}"
                    if customer.segment == "business"
                    else f"{customer.full_name} account",
                    "type": "BUSINESS" if customer.segment == "business" else "CONSUMER",
                    "customer": customer,
                    "contact_email": customer.email,
                    "erp_reference": f"ERP-{customer.pk:06d}",
                    "custom_attributes": {"payment_terms": "30 days"}
                    if customer.segment == "business"
                    else {},
                    "status": "SUSPENDED" if customer.pk % 11 == 0 else "ACTIVE",
                },
            )
            if created and customer.segment == "business":
                DebitMemo.objects.create(
                    retailer=self.retailer,
                    account=account,
                    number=f"DM-{account.ref}",
                    amount=Decimal("15.00"),
                    currency=self.retailer.currency,
                    reason="Late payment fee",
                )

    def _customers(self, count: int) -> list[Customer]:
        have = {c.ref: c for c in Customer.objects.filter(retailer=self.retailer)}
        customers = []
        for number in range(1, count + 1):
            ref = f"{self.prefix}-C{10000 + number}"
            if ref in have:
                customers.append(have[ref])
                continue
            rng = random.Random(f"{self.retailer.ref}:customer:{number}")
            segment = rng.choices(list(Customer.Segment.values), weights=[80, 10, 8, 2])[0]
            customers.append(CustomerFactory(retailer=self.retailer, ref=ref, segment=segment))
        return customers

    def _order(self, ref: str, number: int, rng: random.Random, customer: Customer) -> Order:
        state = rng.choices([s for s, _ in STATE_WEIGHTS], weights=[w for _, w in STATE_WEIGHTS])[0]
        placed_at = self.now - timedelta(minutes=rng.randrange(60, 60 * 24 * 60))
        if number % 12 == 0:  # a few from today
            placed_at = self.now - timedelta(minutes=rng.randrange(5, 300))
            state = SystemState.NEW
        order_type = OrderType.CLICK_AND_COLLECT if rng.random() < 0.2 else OrderType.HOME_DELIVERY
        if number % 17 == 0:
            order_type = OrderType.HOME_DELIVERY
        # a few orders go abroad, where no carrier of the retailer delivers: escalations
        abroad = number % 17 == 0
        address = AddressFactory(
            retailer=self.retailer,
            customer=customer,
            country="DE" if abroad else COUNTRIES[self.retailer.ref],
        )
        carrier = rng.choice(CARRIERS[self.retailer.ref])
        order = OrderFactory(
            retailer=self.retailer,
            ref=ref,
            customer=customer,
            status=status_for(self.retailer, state),
            channel=rng.choices(list(Channel.values), weights=[55, 20, 10, 10, 5])[0],
            type=order_type,
            billing_address=address,
            shipping_address=address,
            delivery_method="Store collection"
            if order_type == OrderType.CLICK_AND_COLLECT
            else rng.choice(["Standard delivery", "Next-day delivery", "Evening delivery"]),
            carrier="" if order_type == OrderType.CLICK_AND_COLLECT else carrier,
            collection_location=rng.choice(STORES[self.retailer.ref])
            if order_type == OrderType.CLICK_AND_COLLECT
            else "",
            promised_date=(placed_at + timedelta(days=rng.randrange(1, 6))).date(),
            placed_at=placed_at,
            updated_at=placed_at,
            hold_documentation=state == SystemState.NEW and rng.random() < 0.08,
            hold_compliance=state == SystemState.FRAUD,
        )
        self._lines(order, rng, state)
        activity.record(
            action="orders.order.placed",
            target=order,
            by=None,
            at=placed_at,
            data={
                "channel": order.get_channel_display(),
                "total": str(order.total),
                "currency": order.currency,
            },
        )
        self._fulfilment(order, rng, state)  # stock first: it is locked before invoice numbers
        self._payment(order, rng, state)
        self._shipment(order, rng, state, carrier)
        self._notes(order, rng)
        self._return(order, rng, state)
        self._ticket(order, rng)
        if state != SystemState.NEW:
            at = placed_at + timedelta(hours=rng.randrange(1, 30))
            activity.record(
                action="orders.order.status_changed",
                target=order,
                by=None,
                at=at,
                data={"before": "New", "after": order.status.label},
            )
            order.updated_at = at
            order.save(update_fields=["updated_at"])
        return order

    def _lines(self, order: Order, rng: random.Random, state: str) -> None:
        catalogue = CATALOGUE[self.retailer.ref]
        shipment_status = {
            SystemState.COMPLETED: ShipmentStatus.DELIVERED,
            SystemState.CANCELLED: ShipmentStatus.CANCELLED,
            SystemState.PROCESSING: rng.choice([ShipmentStatus.PENDING, ShipmentStatus.PICKED]),
        }.get(state, ShipmentStatus.PENDING)
        for position, (sku, name, price) in enumerate(
            rng.sample(catalogue, rng.randrange(1, min(4, len(catalogue)) + 1))
        ):
            unit_price = Decimal(price)
            quantity = rng.choices([1, 2, 3], weights=[75, 20, 5])[0]
            discount = (
                (unit_price * quantity * Decimal("0.10")).quantize(CENT, ROUND_HALF_UP)
                if rng.random() < 0.15
                else Decimal("0.00")
            )
            OrderLineFactory(
                order=order,
                position=position,
                sku=sku,
                name=name,
                quantity=quantity,
                unit_price=unit_price,
                discount=discount,
                tax_rate=rng.choice(TAX_RATES[self.retailer.ref]),
                shipment_status=shipment_status,
                cancelled=quantity if shipment_status == ShipmentStatus.CANCELLED else 0,
                shipping_method=order.delivery_method,
            )
        shipping = Decimal("0.00") if order.type == OrderType.CLICK_AND_COLLECT else Decimal("4.95")
        recalculate_totals(order, shipping=shipping)

    def _payment(self, order: Order, rng: random.Random, state: str) -> None:
        if state == SystemState.NEW and rng.random() < 0.25:
            method = Payment.Method.BANK_TRANSFER  # waiting for the customer's transfer
            PaymentFactory(
                order=order,
                method=method,
                authorised=Decimal("0.00"),
                provider_reference=f"psp_{order.ref}",
            )
            order.payment_status = PaymentStatus.NOT_PAID
            order.save(update_fields=["payment_status"])
            return
        method = rng.choices(list(Payment.Method.values), weights=[45, 25, 15, 10, 3, 2])[0]
        payment = PaymentFactory(
            order=order,
            method=method,
            authorised=order.total,
            provider_reference=f"psp_{order.ref}",
        )
        at = order.placed_at + timedelta(seconds=30)
        self._transaction(payment, PaymentTransaction.Kind.AUTHORISE, order.total, at)
        captured = Decimal("0.00")
        refunded = Decimal("0.00")
        status = PaymentStatus.AUTHORISED
        if state in (SystemState.PROCESSING, SystemState.COMPLETED):
            captured = order.total
            status = PaymentStatus.PAID
            if state == SystemState.PROCESSING and rng.random() < 0.2:
                captured = (order.total / 2).quantize(CENT)
                status = PaymentStatus.PARTIALLY_PAID
            at += timedelta(hours=rng.randrange(1, 20))
            self._transaction(payment, PaymentTransaction.Kind.CAPTURE, captured, at)
        elif state == SystemState.CANCELLED:
            if rng.random() < 0.5:
                captured = refunded = order.total
                at += timedelta(hours=2)
                self._transaction(payment, PaymentTransaction.Kind.CAPTURE, captured, at)
                at += timedelta(hours=rng.randrange(2, 48))
                self._transaction(payment, PaymentTransaction.Kind.REFUND, refunded, at)
                status = PaymentStatus.REFUNDED
            else:
                at += timedelta(hours=3)
                self._transaction(payment, PaymentTransaction.Kind.VOID, order.total, at)
                payment.voided = order.total
                status = PaymentStatus.NOT_PAID
        elif state == SystemState.FRAUD and rng.random() < 0.5:
            at += timedelta(minutes=5)
            self._transaction(
                payment,
                PaymentTransaction.Kind.CAPTURE,
                order.total,
                at,
                status=PaymentTransaction.Status.FAILED,
                message="Declined by issuer: suspected fraud (code 59)",
            )
        payment.captured, payment.refunded = captured, refunded
        payment.save(update_fields=["captured", "refunded", "voided"])
        order.payment_status = status
        order.save(update_fields=["payment_status"])
        if status in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
            invoice = invoices_on_paid(order=order, by=None)
            if invoice is not None:
                invoice.issued_at = at
                invoice.save(update_fields=["issued_at"])
                Activity.objects.filter(
                    target_type="billing.invoice", target_id=str(invoice.pk)
                ).update(created_at=at)

    def _transaction(self, payment, kind, amount, at, *, status=None, message=""):
        tx = PaymentTransactionFactory(
            payment=payment,
            kind=kind,
            amount=amount,
            status=status or PaymentTransaction.Status.SUCCEEDED,
            idempotency_key=f"demo-{payment.order.ref}-{kind}-{at.timestamp():.0f}",
            reference=f"sim_{kind[:3]}_{payment.order.ref}_{at.timestamp():.0f}",
            message=message,
            created_at=at,
            completed_at=at,
        )
        if tx.status == PaymentTransaction.Status.SUCCEEDED and kind != "authorise":
            # the simulated gateway's side of the same movement, so "Sync payments" agrees
            SimulatedGatewayRecord.objects.create(
                idempotency_key=tx.idempotency_key,
                payment_reference=payment.provider_reference,
                kind=kind,
                amount=amount,
                currency=payment.currency,
                reference=tx.reference,
                created_at=at,
            )
        if tx.status == PaymentTransaction.Status.SUCCEEDED:
            action = {
                "authorise": "authorised",
                "capture": "captured",
                "refund": "refunded",
                "void": "voided",
            }[kind]
            activity.record(
                action=f"orders.payment.{action}",
                target=tx,
                root=payment.order,
                by=None,
                at=at,
                data={
                    "amount": str(amount),
                    "currency": payment.currency,
                    "method": payment.get_method_display(),
                },
            )

    def _shipment(self, order: Order, rng: random.Random, state: str, carrier: str) -> None:
        shipped = state == SystemState.COMPLETED or (
            state == SystemState.PROCESSING
            and order.lines.filter(shipment_status="shipped").exists()
        )
        if not shipped or order.type == OrderType.CLICK_AND_COLLECT:
            return
        shipped_at = order.placed_at + timedelta(hours=rng.randrange(6, 30))
        delivered = state == SystemState.COMPLETED
        shipment = ShipmentFactory(
            order=order,
            carrier=carrier,
            service=order.delivery_method,
            tracking_number=f"{carrier[:2].upper()}{order.pk:09d}{order.retailer.ref[:2].upper()}",
            status=Shipment.Status.DELIVERED if delivered else Shipment.Status.IN_TRANSIT,
            estimated_delivery=(shipped_at + timedelta(days=2)).date(),
            shipped_at=shipped_at,
            delivered_at=shipped_at + timedelta(days=1, hours=rng.randrange(1, 10))
            if delivered
            else None,
            created_at=shipped_at,
        )
        order.lines.update(tracking_number=shipment.tracking_number)
        steps = [
            (Shipment.Status.LABEL_CREATED, "Shipping label created", "Warehouse"),
            (Shipment.Status.IN_TRANSIT, "Parcel received by the carrier", "Sorting centre"),
            (Shipment.Status.IN_TRANSIT, "Parcel sorted for delivery", "Local depot"),
        ]
        if delivered:
            steps += [
                (Shipment.Status.OUT_FOR_DELIVERY, "Out for delivery", "Local depot"),
                (Shipment.Status.DELIVERED, "Delivered", order.shipping_address.city),
            ]
        at = shipped_at
        for status, description, location in steps:
            ShipmentEventFactory(
                shipment=shipment,
                status=status,
                description=description,
                location=location,
                occurred_at=at,
            )
            at += timedelta(hours=rng.randrange(2, 9))
        activity.record(
            action="orders.shipment.created",
            target=shipment,
            root=order,
            by=None,
            at=shipped_at,
            data={"carrier": carrier, "tracking_number": shipment.tracking_number},
        )
        if delivered:
            activity.record(
                action="orders.shipment.delivered",
                target=shipment,
                root=order,
                by=None,
                at=shipment.delivered_at,
                data={"carrier": carrier},
            )

    def _notes(self, order: Order, rng: random.Random) -> None:
        if not self.staff:
            return
        if rng.random() < 0.3:
            author = rng.choice(self.staff)
            at = order.placed_at + timedelta(hours=rng.randrange(1, 48))
            comment = CommentFactory(
                order=order, author=author, body=rng.choice(COMMENTS), created_at=at
            )
            activity.record(
                action="orders.comment.added",
                target=comment,
                root=order,
                by=author,
                at=at,
                data={"body": comment.body},
            )
        if rng.random() < 0.15:
            author = rng.choice(self.staff)
            due = self.now + timedelta(days=rng.randrange(-2, 5), hours=rng.randrange(0, 8))
            task = TaskFactory(
                order=order,
                created_by=author,
                assignee=rng.choice(self.staff),
                description=rng.choice(TASKS),
                due_at=due,
                status=rng.choices(list(Task.Status.values), weights=[60, 20, 20])[0],
                created_at=order.placed_at + timedelta(hours=2),
            )
            activity.record(
                action="orders.task.added",
                target=task,
                root=order,
                by=author,
                at=task.created_at,
                data={"description": task.description, "assignee": task.assignee.username},
            )
        if rng.random() < 0.05:
            author = rng.choice(self.staff)
            memo = MemoFactory(
                order=order,
                author=author,
                body="VIP customer: handle any complaint with priority.",
                created_at=order.placed_at + timedelta(hours=1),
            )
            activity.record(
                action="orders.memo.added",
                target=memo,
                root=order,
                by=author,
                at=memo.created_at,
                data={"body": memo.body},
            )

    # -- returns -----------------------------------------------------------------------
    RETURN_STATUSES = ["CREATED", "BOOKED", "LODGED", "PENDING_REFUND", "COMPLETE", "COMPLETE"]

    def _return(self, order: Order, rng: random.Random, state: str) -> None:
        """Returns of every type and status, with parcels and refunds."""
        payment = order.payments.first()
        if state == SystemState.CANCELLED and payment is not None and payment.refunded:
            self._make_return(
                order,
                rng,
                "CANCELLATION",
                "COMPLETE",
                list(order.lines.all()),
                refund=payment.transactions.filter(kind="refund").first(),
            )
        elif state == SystemState.COMPLETED and rng.random() < 0.3:
            status = rng.choice(self.RETURN_STATUSES)
            lines = list(order.lines.all())[:1]
            self._make_return(order, rng, "CUSTOMER_RETURN", status, lines)
        elif state == SystemState.PROCESSING and rng.random() < 0.08:
            lines = list(order.lines.all())[-1:]
            lines[0].shipment_status = ShipmentStatus.CANCELLED
            lines[0].cancelled = lines[0].quantity
            lines[0].save(update_fields=["shipment_status", "cancelled"])
            sourcing.fulfilments_release(  # its fulfilment gives the cancelled units up
                order=order, units={lines[0].pk: lines[0].quantity}, by=None
            )
            self._make_return(
                order, rng, "CANNOT_FULFIL", rng.choice(["CREATED", "COMPLETE"]), lines
            )

    def _make_return(self, order, rng, type_, status, lines, refund=None):
        reasons = {r.code: r for r in ReturnReason.objects.filter(retailer=order.retailer)}
        conditions = list(ReturnCondition.objects.filter(retailer=order.retailer))
        reason = reasons[rng.choice(list(reasons))] if type_ == "CUSTOMER_RETURN" else None
        # returns come after the order, but never later than now
        at = min(
            order.updated_at + timedelta(days=rng.randrange(1, 6)), self.now - timedelta(days=3)
        )
        at = max(at, order.placed_at)
        customer = order.customer
        choice = None
        if type_ == "CUSTOMER_RETURN" and status != "CREATED":
            location = rng.choice(["DC-MAIN", *STORES[self.retailer.ref]])
            choice = {
                "preferredLocationRef": location,
                "fulfilmentType": "R_RTDC" if location == "DC-MAIN" else "R_RTS",
                "fulfilmentPrice": None,
                "fulfilmentTaxPrice": None,
                "currency": order.currency,
                "address": {"locationRef": location},
            }
        ret = Return.objects.create(
            retailer=order.retailer,
            order=order,
            type=type_,
            status=status,
            customer=customer,
            customer_ref=customer.ref,
            customer_email=customer.email,
            customer_first_name=customer.first_name,
            customer_last_name=customer.last_name,
            customer_mobile=customer.mobile,
            fulfilment_choice=choice,
            action=reason.default_action if reason else None,
            currency=order.currency,
            return_ref=f"{order.ref}-R{type_[:2]}",
            created_at=at,
            updated_at=at,
        )
        for line in lines:
            per_unit_tax = (line.tax / line.quantity).quantize(CENT)
            units = 1 if type_ == "CUSTOMER_RETURN" else line.quantity
            ReturnItem.objects.create(
                retailer=order.retailer,
                return_request=ret,
                order_line=line,
                sku_id=str(line.pk),
                sku_ref=line.sku,
                sku_price=(line.total / line.quantity - per_unit_tax).quantize(CENT),
                sku_tax_price=per_unit_tax,
                tax_type="VAT",
                currency=order.currency,
                quantity=units,
                amount=share(line.total, line.quantity, 0, units),
                reason=reason,
                reason_text=reason.code if reason else type_,
                condition=rng.choice(conditions) if reason else None,
                condition_text="" if reason else type_,
                action=ret.action,
            )
        ret.total_return_price = (
            refund.amount if refund else sum(i.refund_amount for i in ret.items.all())
        )
        ret.save(update_fields=["total_return_price"])
        if choice:
            parcel_status = {"BOOKED": "CREATED"}.get(status, "COMPLETE")
            ReturnFulfilment.objects.create(
                retailer=order.retailer,
                return_request=ret,
                ref=f"RF-{ret.return_ref}",
                type=choice["fulfilmentType"],
                status=parcel_status,
                from_location=customer.full_name,
                to_location=choice["preferredLocationRef"],
                created_at=at,
                arrived_at=at + timedelta(days=2) if parcel_status != "CREATED" else None,
                completed_at=at + timedelta(days=3) if parcel_status == "COMPLETE" else None,
            )
        payment = order.payments.first()
        if status in ("LODGED", "COMPLETE") and refund is None and payment is not None:
            done = status == "COMPLETE"
            refund = PaymentTransactionFactory(
                payment=payment,
                kind="refund",
                amount=ret.total_return_price,
                status="succeeded" if done else "pending",
                idempotency_key=f"demo-{ret.return_ref}-refund",
                reference=f"sim_ref_{ret.return_ref}" if done else "",
                created_at=at + timedelta(days=2),
                completed_at=at + timedelta(days=2) if done else None,
            )
            if done:
                payment.refunded = min(payment.captured, payment.refunded + refund.amount)
                payment.save(update_fields=["refunded"])
                SimulatedGatewayRecord.objects.create(
                    idempotency_key=refund.idempotency_key,
                    payment_reference=payment.provider_reference,
                    kind="refund",
                    amount=refund.amount,
                    currency=payment.currency,
                    reference=refund.reference,
                    created_at=refund.created_at,
                )
        if refund is not None:
            PaymentTransaction.objects.filter(pk=refund.pk).update(return_request=ret)
        activity.record(
            action="returns.return.created",
            target=ret,
            by=None,
            at=at,
            data={
                "return_ref": ret.return_ref,
                "type": type_,
                "type_label": ret.get_type_display(),
                "summary": f"{sum(i.quantity for i in ret.items.all())} item(s), "
                f"{ret.total_return_price} {ret.currency}",
            },
        )
        if status != "CREATED":
            activity.record(
                action="returns.return.status_changed",
                target=ret,
                by=None,
                at=at + timedelta(days=2),
                data={
                    "return_ref": ret.return_ref,
                    "before": "Created",
                    "after": ret.get_status_display(),
                },
            )

    # -- fulfilment network ----------------------------------------------------------------
    def _network(self) -> None:
        """Locations, carriers and stock: enough for most orders, a few SKUs running low."""
        country = COUNTRIES[self.retailer.ref]
        specs = [
            (f"{self.prefix}-DC", f"{self.retailer.name} distribution centre", "dc", 60),
            *[
                (f"{self.prefix}-S{i}", name, "store", 8)
                for i, name in enumerate(STORES[self.retailer.ref], start=1)
            ],
        ]
        for ref, name, kind, capacity in specs:
            location, created = Location.objects.get_or_create(
                retailer=self.retailer,
                ref=ref,
                defaults={
                    "name": name,
                    "type": kind,
                    "country": country,
                    "zones": [country, "BE"] if country == "NL" else [country],
                    "daily_capacity": capacity,
                    "city": name.split()[-1],
                },
            )
            if not created:
                continue
            rng = random.Random(f"{ref}:stock")
            for sku, _name, _price in CATALOGUE[self.retailer.ref]:
                low = sku.endswith(("TENT-2", "DUVET-K"))  # always short: escalations
                StockPosition.objects.create(
                    retailer=self.retailer,
                    location=location,
                    sku=sku,
                    on_hand=rng.randrange(0, 3) if low else rng.randrange(20, 60),
                    safety_threshold=2 if low else rng.randrange(2, 6),
                )
        for name in CARRIERS[self.retailer.ref]:
            Carrier.objects.get_or_create(
                retailer=self.retailer,
                name=name,
                defaults={
                    "zones": [country, "BE"] if country == "NL" else [country],
                    "is_available": name != "DPD",
                },
            )

    def _fulfilment(self, order: Order, rng: random.Random, state: str) -> None:
        if state == SystemState.PROCESSING:
            result = sourcing.order_source(order=order, by=None, refuse_when_nothing=False)
            if result.escalated is not None:  # escalated when the order was confirmed
                Fulfilment.objects.filter(pk=result.escalated.pk).update(
                    escalated_at=min(order.updated_at, self.now)
                )
            for fulfilment in result.assigned:
                steps = rng.choice(
                    [
                        [],
                        ["PICKED"],
                        ["PICKED", "PACKED"],
                        [
                            "PICKED",
                            "PACKED",
                            "SHIPPED" if order.type == "HD" else "READY_FOR_COLLECTION",
                        ],
                    ]
                )
                for step in steps:
                    sourcing._move(fulfilment, step, by=None)
        elif state == SystemState.COMPLETED:
            location = Location.objects.filter(retailer=self.retailer).order_by("ref").first()
            done = "DELIVERED" if order.type == "HD" else "COLLECTED"
            at = order.updated_at
            fulfilment = Fulfilment.objects.create(
                retailer=self.retailer,
                order=order,
                ref=f"{order.ref}-F1",
                location=location,
                type=order.type,
                status=done,
                history={
                    s: (at + timedelta(hours=i)).isoformat()
                    for i, s in enumerate(
                        [
                            "CREATED",
                            "ASSIGNED",
                            "PICKED",
                            "PACKED",
                            "SHIPPED" if done == "DELIVERED" else "READY_FOR_COLLECTION",
                            done,
                        ]
                    )
                },
                created_at=order.placed_at,
                updated_at=at,
            )
            for line in order.lines.all():
                FulfilmentItem.objects.create(
                    retailer=self.retailer,
                    fulfilment=fulfilment,
                    order_line=line,
                    requested=line.quantity,
                    filled=line.quantity,
                )

    QUESTIONS = [
        (
            "Where is my parcel?",
            "The tracking page has not changed for two days. Can you check?",
            "I have asked the carrier; it will be delivered tomorrow before 6 pm.",
        ),
        ("Change of address", "Could you deliver to my office instead?", None),
        (
            "Gift wrapping",
            "Is it possible to gift wrap the order?",
            "Yes, we have added gift wrapping at no cost.",
        ),
    ]

    def _ticket(self, order: Order, rng: random.Random) -> None:
        if rng.random() > 0.12 or not self.staff:
            return
        subject, question, answer = rng.choice(self.QUESTIONS)
        at = min(order.placed_at + timedelta(hours=rng.randrange(2, 40)), self.now)
        ticket = Ticket.objects.create(
            retailer=self.retailer,
            order=order,
            subject=subject,
            status="answered" if answer else "open",
            created_at=at,
            updated_at=at,
        )
        TicketMessage.objects.create(
            retailer=self.retailer, ticket=ticket, sender="customer", body=question, created_at=at
        )
        activity.record(
            action="orders.ticket.customer_message",
            target=ticket,
            root=order,
            by=None,
            at=at,
            data={"subject": subject, "body": question},
        )
        if answer:
            agent = rng.choice(self.staff)
            later = min(at + timedelta(hours=3), self.now)
            TicketMessage.objects.create(
                retailer=self.retailer,
                ticket=ticket,
                sender="agent",
                author=agent,
                body=answer,
                created_at=later,
            )
            activity.record(
                action="orders.ticket.replied",
                target=ticket,
                root=order,
                by=agent,
                at=later,
                data={"subject": subject, "body": answer},
            )

    # -- intake ------------------------------------------------------------------------------
    def _intake(self) -> None:
        """Channels of each kind and a stream of accepted, rejected and dead messages."""
        web, _ = IntakeChannel.objects.get_or_create(
            retailer=self.retailer, code="web", defaults={"name": "Web store", "kind": "webstore"}
        )
        market, _ = IntakeChannel.objects.get_or_create(
            retailer=self.retailer,
            code="market",
            defaults={
                "name": "Marketplace",
                "kind": "marketplace",
                "rules": {"require_phone": False},
            },
        )
        IntakeChannel.objects.get_or_create(
            retailer=self.retailer, code="batch", defaults={"name": "Batch import", "kind": "batch"}
        )
        if IntakeMessage.objects.filter(retailer=self.retailer).exists():
            return
        country, currency = COUNTRIES[self.retailer.ref], self.retailer.currency
        sku, name, price = CATALOGUE[self.retailer.ref][1]
        for n in range(1, 7):
            bad = {4: {"currency": "USD"}, 5: {"customer": {"email": ""}}}.get(n, {})
            payload = {
                "id": f"{self.prefix}W{n:04d}",
                "currency": currency,
                "customer": {
                    "email": f"web.buyer{n}@example.com",
                    "first_name": "Web",
                    "last_name": f"Buyer {n}",
                    "phone": "+31 6 0000 0000",
                },
                "shipping_address": {
                    "street": f"Main street {n}",
                    "zip": "1000 AA",
                    "city": "Utrecht" if country == "NL" else "Leeds",
                    "country": country,
                },
                "lines": [{"sku": sku, "title": name, "qty": 1, "price": price}],
                "shipping_cost": "0.00",
                "total": price,
                "payment": {"method": "card"},
            } | bad
            message = IntakeMessage.objects.create(
                retailer=self.retailer, channel=web, body=json.dumps(payload)
            )
            intake_process(message_id=message.pk)
        cents = int(Decimal(price) * 100)
        for n in range(1, 4):
            payload = {
                "orderNumber": f"{self.prefix}M{n:04d}",
                "status": "NEW",
                "buyer": {
                    "name": {"given": "Market", "family": f"Buyer {n}"},
                    "contact": {"mail": f"market.buyer{n}@example.com"},
                },
                "delivery": {
                    "address": {
                        "addressLines": [f"Side street {n}"],
                        "postalCode": "2000 BB",
                        "town": "Leiden",
                        "countryCode": country,
                    },
                    "fee": {"amount": 0, "currency": currency},
                },
                "items": [
                    {
                        "offer": {"sku": sku, "label": name},
                        "quantity": 1,
                        "unitPrice": {"amount": cents, "currency": currency},
                    }
                ],
                "totals": {
                    "grandTotal": {"amount": cents + (500 if n == 3 else 0), "currency": currency}
                },
            }
            message = IntakeMessage.objects.create(
                retailer=self.retailer, channel=market, body=json.dumps(payload)
            )
            intake_process(message_id=message.pk)
        IntakeMessage.objects.create(
            retailer=self.retailer,
            channel=market,
            body='{"orderNumber": "' + self.prefix + 'M9999"',
            external_id=f"{self.prefix}M9999",
            status="DEAD",
            attempts=5,
            reasons=["OperationalError: the database was restarting (5 attempts)"],
        )
