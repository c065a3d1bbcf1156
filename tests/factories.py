"""factory-boy factories for the tests (`seed_demo` makes its data through the services).

Factories keep related rows in one retailer: a child row takes its retailer from its parent.
"""

from decimal import ROUND_HALF_UP, Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.text import slugify

from billing.models import Invoice, Payment, PaymentTransaction
from customers.models import Address, Customer
from fulfilments.services import fulfilment_direct
from oms.models import Membership, Retailer
from oms.roles import Role
from orders.models import (
    Comment,
    Memo,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    SystemState,
    Task,
)
from orders.services import order_statuses_ensure_defaults
from returns.models import Return, ReturnItem, ReturnType

DEMO_PASSWORD = "demo-password"
CENT = Decimal("0.01")


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer
        django_get_or_create = ("ref",)
        skip_postgeneration_save = True

    ref = factory.Sequence(lambda n: f"retailer-{n}")
    name = factory.LazyAttribute(lambda o: o.ref.replace("-", " ").title())
    currency = "EUR"
    time_zone = "Europe/Amsterdam"
    languages = factory.LazyFunction(lambda: ["en", "nl"])

    @factory.post_generation
    def statuses(obj, create, extracted, **kwargs):
        if create:
            from returns.services import return_config_ensure_defaults

            order_statuses_ensure_defaults(retailer=obj)
            return_config_ensure_defaults(retailer=obj)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(DEMO_PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership
        django_get_or_create = ("user", "retailer")

    user = factory.SubFactory(UserFactory)
    retailer = factory.SubFactory(RetailerFactory)
    role = Role.AGENT


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    retailer = factory.SubFactory(RetailerFactory)
    ref = factory.Sequence(lambda n: f"CUST-{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(
        lambda o: f"{slugify(o.first_name)}.{slugify(o.last_name)}.{o.ref[-4:]}@example.com"
    )
    mobile = factory.Sequence(lambda n: f"+31 6 {10000000 + n}")
    segment = Customer.Segment.CONSUMER


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    retailer = factory.SubFactory(RetailerFactory)
    customer = None
    name = factory.LazyAttribute(lambda o: o.customer.full_name if o.customer else "Guest")
    line1 = factory.Faker("street_address")
    postcode = factory.Faker("postcode")
    city = factory.Faker("city")
    country = "NL"


def status_for(retailer: Retailer, state: str) -> OrderStatus:
    """The retailer's first status mapped onto the system state."""
    return OrderStatus.objects.filter(retailer=retailer, system_state=state).earliest(
        "position", "pk"
    )


class OrderFactory(factory.django.DjangoModelFactory):
    """An order; `OrderFactory(lines=3)` adds three lines and totals them."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    class Params:
        state = SystemState.NEW

    retailer = factory.SubFactory(RetailerFactory)
    ref = factory.Sequence(lambda n: f"ORD-{n:06d}")
    customer = factory.SubFactory(CustomerFactory, retailer=factory.SelfAttribute("..retailer"))
    status = factory.LazyAttribute(lambda o: status_for(o.retailer, o.state))
    currency = factory.LazyAttribute(lambda o: o.retailer.currency)
    billing_address = factory.SubFactory(
        AddressFactory,
        retailer=factory.SelfAttribute("..retailer"),
        customer=factory.SelfAttribute("..customer"),
    )
    shipping_address = factory.SelfAttribute("billing_address")
    delivery_method = "Standard delivery"
    carrier = "PostNL"
    placed_at = factory.LazyFunction(timezone.now)
    updated_at = factory.SelfAttribute("placed_at")

    @factory.post_generation
    def lines(obj, create, extracted, **kwargs):
        if create and extracted:
            OrderLineFactory.create_batch(extracted, order=obj, **kwargs)
            recalculate_totals(obj)
            if obj.status.system_state == SystemState.COMPLETED:
                ship(obj)  # a completed order shipped everything


def ship(order: Order, *, by=None) -> Order:
    """Record the order's open units as shipped, as marking it sent does for a retailer that
    fulfils elsewhere."""
    units = order.lines.units()
    leaving = {line: units[line.pk].open for line in order.lines.all() if units[line.pk].open}
    if leaving:
        fulfilment_direct(order=order, units=leaving, by=by)
    return order


def recalculate_totals(order: Order, *, shipping: Decimal = Decimal("0.00")) -> Order:
    """Sum the order's lines into its totals (prices include tax)."""
    lines = list(order.lines.all())
    order.subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    order.discount = sum((line.discount for line in lines), Decimal(0))
    order.shipping = shipping
    order.tax = sum((line.tax for line in lines), Decimal(0))
    order.total = order.subtotal - order.discount + order.shipping
    order.item_count = sum(line.quantity for line in lines)
    order.save(update_fields=["subtotal", "discount", "shipping", "tax", "total", "item_count"])
    return order


def _line_total(o) -> Decimal:
    return o.unit_price * o.quantity - o.discount


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    position = factory.Sequence(int)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    quantity = 1
    unit_price = Decimal("49.95")
    discount = Decimal("0.00")
    tax_rate = Decimal("21.00")
    total = factory.LazyAttribute(_line_total)
    tax = factory.LazyAttribute(
        lambda o: (o.total * o.tax_rate / (100 + o.tax_rate)).quantize(CENT, ROUND_HALF_UP)
    )


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    method = Payment.Method.CARD
    currency = factory.SelfAttribute("order.currency")
    authorised = factory.SelfAttribute("order.total")
    provider_reference = factory.Sequence(lambda n: f"psp_{n:08d}")


class PaymentTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentTransaction

    payment = factory.SubFactory(PaymentFactory)
    order = factory.SelfAttribute("payment.order")
    retailer = factory.SelfAttribute("payment.retailer")
    kind = PaymentTransaction.Kind.AUTHORISE
    amount = factory.SelfAttribute("payment.authorised")
    status = PaymentTransaction.Status.SUCCEEDED
    reference = factory.Sequence(lambda n: f"txn_{n:08d}")
    idempotency_key = factory.Sequence(lambda n: f"demo-{n:08d}")


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shipment
        skip_postgeneration_save = True

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    carrier = "PostNL"
    service = "Standard"
    tracking_number = factory.Sequence(lambda n: f"3S{n:010d}")
    status = Shipment.Status.IN_TRANSIT

    @factory.post_generation
    def order_shipped(obj, create, extracted, **kwargs):
        """As `order_mark_sent` does, the order keeps its first parcel's time."""
        first = obj.order.shipped_at
        if create and obj.shipped_at and (first is None or obj.shipped_at < first):
            Order.objects.filter(pk=obj.order_id).update(shipped_at=obj.shipped_at)
            obj.order.shipped_at = obj.shipped_at


class ShipmentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShipmentEvent

    shipment = factory.SubFactory(ShipmentFactory)
    retailer = factory.SelfAttribute("shipment.retailer")
    status = Shipment.Status.IN_TRANSIT
    description = "Parcel sorted at depot"
    location = "Utrecht"
    occurred_at = factory.LazyFunction(timezone.now)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    body = factory.Faker("sentence")


class MemoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Memo

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    body = factory.Faker("sentence")


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    description = factory.Faker("sentence")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    order = factory.SubFactory(OrderFactory, lines=1)
    retailer = factory.SelfAttribute("order.retailer")
    number = factory.Sequence(lambda n: f"INV-T-{n:05d}")
    sequence_number = factory.Sequence(lambda n: 100000 + n)
    currency = factory.SelfAttribute("order.currency")
    lines = factory.LazyAttribute(
        lambda o: [
            {
                "line_id": line.pk,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "tax_rate": str(line.tax_rate),
                "tax": str(line.tax),
                "total": str(line.total),
            }
            for line in o.order.lines.all()
        ]
    )
    tax = factory.SelfAttribute("order.tax")
    total = factory.SelfAttribute("order.total")
    billing_name = "Jane Doe"


class StatusFactory(factory.django.DjangoModelFactory):
    """An extra order status of a retailer, beside its six defaults."""

    class Meta:
        model = OrderStatus

    retailer = factory.SubFactory(RetailerFactory)
    code = factory.Sequence(lambda n: f"custom-{n}")
    label = factory.Sequence(lambda n: f"Custom {n}")
    colour = "teal"
    position = 50
    system_state = SystemState.PROCESSING


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return
        skip_postgeneration_save = True

    retailer = factory.SubFactory(RetailerFactory)
    order = factory.SubFactory(OrderFactory, retailer=factory.SelfAttribute("..retailer"), lines=1)
    type = ReturnType.CUSTOMER_RETURN
    customer = factory.SelfAttribute("order.customer")
    customer_email = factory.LazyAttribute(lambda o: o.order.customer.email if o.order else "a@b.c")
    customer_first_name = factory.LazyAttribute(
        lambda o: o.customer.first_name if o.customer else ""
    )
    customer_last_name = factory.LazyAttribute(lambda o: o.customer.last_name if o.customer else "")
    currency = factory.LazyAttribute(lambda o: o.retailer.currency)

    @factory.post_generation
    def items(obj, create, extracted, **kwargs):
        if not create or obj.order is None or extracted is False:
            return
        for line in obj.order.lines.all()[: extracted or 1]:
            ReturnItem.objects.create(
                retailer_id=obj.retailer_id,
                return_request=obj,
                order_line=line,
                sku_ref=line.sku,
                sku_id=str(line.pk),
                sku_price=line.unit_price - line.tax,
                sku_tax_price=line.tax,
                tax_type="VAT",
                currency=obj.currency,
                quantity=1,
                reason_text="Damaged",
                condition_text="0",
            )
        obj.total_return_price = sum(i.refund_amount for i in obj.items.all())
        obj.save(update_fields=["total_return_price"])


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fulfilments.Location"

    retailer = factory.SubFactory(RetailerFactory)
    ref = factory.Sequence(lambda n: f"LOC-{n}")
    name = factory.Sequence(lambda n: f"Warehouse {n}")
    country = "NL"
    zones = factory.LazyFunction(lambda: ["NL", "BE"])
    daily_capacity = 100


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fulfilments.Carrier"

    retailer = factory.SubFactory(RetailerFactory)
    name = factory.Sequence(lambda n: f"Carrier {n}")
    zones = factory.LazyFunction(lambda: ["NL", "BE"])


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fulfilments.StockPosition"

    location = factory.SubFactory(LocationFactory)
    retailer = factory.SelfAttribute("location.retailer")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    on_hand = 10


class FulfilmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fulfilments.Fulfilment"
        skip_postgeneration_save = True

    order = factory.SubFactory(OrderFactory, lines=1)
    retailer = factory.SelfAttribute("order.retailer")
    ref = factory.Sequence(lambda n: f"FUL-{n:05d}")
    status = "ESCALATED"
    escalation_reason = "SKU: 1 of 1 cannot be sourced"
    escalated_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def items(obj, create, extracted, **kwargs):
        if create:
            from fulfilments.models import FulfilmentItem

            for line in obj.order.lines.all():
                FulfilmentItem.objects.create(
                    retailer=obj.retailer, fulfilment=obj, order_line=line, requested=line.quantity
                )


class BillingAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "billing.BillingAccount"

    customer = factory.SubFactory(CustomerFactory)
    retailer = factory.SelfAttribute("customer.retailer")
    name = factory.LazyAttribute(lambda o: f"{o.customer.full_name} account")
    ref = factory.Sequence(lambda n: f"BA-{n:05d}")
    contact_email = factory.LazyAttribute(lambda o: o.customer.email)


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Ticket"

    order = factory.SubFactory(OrderFactory)
    retailer = factory.SelfAttribute("order.retailer")
    subject = "Where is my parcel?"
