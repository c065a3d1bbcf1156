"""Load the demo data: retailers acme and globex, their staff, customers and orders.

The demo's history is played through the services, on a simulated clock (`time_machine`) that
moves forward over the last 75 days: customers sign up, orders are placed (by the order
services and through the intake channels), confirmed and sourced, captured through the
simulated gateway, shipped with carrier scans, delivered, completed, returned and refunded,
cancelled whole or by line, suspended, held and escalated (and sourced again when a stock
upload brings the scarce SKUs in); agents comment, pin memos, add tasks and answer tickets;
billing accounts are activated and charged. Background work (payment
operations, email) runs in-process when each change commits, on the same clock. So every
record is dated when it happened, nothing is dated after now, and no record can contradict
another: `manage.py check_consistency` finds nothing.

Rows no service makes are written directly: the retailers (then given their defaults through
`retailer_ensure_defaults`), users and memberships, the locations, carriers and stock
positions as they first stand, the intake channels, billing accounts (then moved and charged by billing's
services), a new customer's segment and language (the storefront's profile), the carrier's
tracking scans and delivery of a shipment (a carrier's feed), and one DEAD intake message (a
worker that died on its last attempt).

Safe to run again: retailers, users, customers (by email), orders (by ref) and intake messages
are found by their natural keys, so a second run creates nothing and changes nothing. A larger
--orders plays the lives of the orders that are missing. The same --orders gives the same data
(seeded random), except for the dates, which follow today. On SQLite (`make run`) commits do
not wait for the disk while it loads.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import time_machine
from celery import current_app
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker

from billing import services as billing
from billing.models import BillingAccount
from customers.models import Customer
from customers.services import customer_for_order
from fulfilments import services as fulfilments
from fulfilments.models import Carrier, Fulfilment, FulfilmentStatus, Location, StockPosition
from oms import activity, rls
from oms.models import Membership, Retailer
from oms.retailer_defaults import retailer_ensure_defaults
from oms.roles import Role
from oms.search import search_key
from oms.state import InvalidTransition
from orders import services
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_receive
from orders.models import (
    HoldRule,
    Order,
    OrderStatus,
    OrderType,
    Shipment,
    ShipmentEvent,
    SystemState,
    Task,
    Ticket,
)
from returns import services as returns
from returns.models import ReturnFulfilment

User = get_user_model()
DEMO_PASSWORD = "demo-password"
CENT = Decimal("0.01")
DAYS = 75  # how far back the demo's history starts

RETAILERS = [
    {
        "ref": "acme",
        "name": "Acme Outfitters",
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "languages": ["en", "nl", "de"],
        "seller": {
            "legal_name": "Acme Outfitters B.V.",
            "street": "Keizersgracht 123",
            "postcode": "1015 CJ",
            "city": "Amsterdam",
            "country": "NL",
            "vat_number": "NL852869327B01",
            "chamber_of_commerce": "12345678",
            "iban": "NL91ABNA0417164300",
        },
        # the retailer's automatic holds: name, kind, condition, amount, countries
        "hold_rules": [
            ("New customer over €600", "compliance", "new_customer_over", "600.00", []),
            ("Business needs a VAT number", "documentation", "business_without_vat", None, []),
        ],
    },
    {
        "ref": "globex",
        "name": "Globex Home",
        "currency": "GBP",
        "time_zone": "Europe/London",
        "languages": ["en"],
        "seller": {
            "legal_name": "Globex Home Ltd",
            "street": "221 Baker Street",
            "postcode": "NW1 6XE",
            "city": "London",
            "country": "GB",
            "vat_number": "GB123456789",
            "chamber_of_commerce": "01234567",
            "iban": "GB82WEST12345698765432",
        },
        "hold_rules": [("Outside the UK", "compliance", "ships_outside", None, ["GB"])],
    },
]
SETUP = ("seller", "hold_rules")  # set by the retailer's admin through the services

# username, first name, last name, memberships as (retailer ref, role), can log in
USERS = [
    ("agent", "Ada", "Agent", [("acme", Role.AGENT)], True),
    ("manager", "Max", "Manager", [("acme", Role.MANAGER)], True),
    ("admin", "Alex", "Admin", [("acme", Role.ADMIN)], True),
    ("globex.agent", "Greta", "Globex", [("globex", Role.AGENT)], True),
    ("multi.agent", "Milo", "Multi", [("acme", Role.AGENT), ("globex", Role.AGENT)], True),
    # Globex's own lead, who moves its orders and money in the demo's history; not a login
    ("globex.lead", "Gil", "Lead", [("globex", Role.ADMIN)], False),
]
LOGINS = [username for username, *_rest, login in USERS if login]

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
SCARCE = ("ACM-TENT-2", "GLX-DUVET-K")  # always short somewhere: escalations
TAX_RATES = {"acme": ["21.00", "21.00", "9.00"], "globex": ["20.00"]}
CARRIERS = {"acme": ["PostNL", "DHL", "DPD"], "globex": ["Royal Mail", "DPD", "Evri"]}
STORES = {"acme": ["Acme Utrecht Centrum", "Acme Amsterdam Zuid"], "globex": ["Globex Leeds"]}
COUNTRIES = {"acme": "NL", "globex": "GB"}
LOCALES = {"acme": "nl_NL", "globex": "en_GB"}
PHONES = {"acme": "+31 6 {:04d} {:04d}", "globex": "+44 7700 {:03d}{:03d}"}

# what becomes of an order, if the clock gets that far
FATES = [
    ("complete", 32),
    ("processing", 20),
    ("new", 8),
    ("held", 3),
    ("cancel_new", 4),
    ("cancel_paid", 4),
    ("cancel_line", 5),
    ("suspend", 6),
    ("fraud", 3),
    ("unpaid", 6),
    ("declined", 3),
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
QUESTIONS = [
    (
        "Where is my parcel?",
        "The tracking page has not changed for two days. Can you check?",
        "I have asked the carrier; it will be delivered tomorrow before 6 pm.",
    ),
    (
        "Change of address",
        "Could you deliver to my office instead?",
        "We have noted your office address for the delivery.",
    ),
    (
        "Gift wrapping",
        "Is it possible to gift wrap the order?",
        "Yes, we have added gift wrapping at no cost.",
    ),
]
# refusals a demo step may meet (stock ran out, a rule says no): the life goes on without it
REFUSED = (InvalidTransition, ValidationError, PermissionDenied)

Life = Iterator[datetime]
# the demo's email is sent (and shows as sent) but kept in memory, not printed
KEPT_MAIL = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


class Command(BaseCommand):
    help = (
        "Create the demo retailers, users, customers and orders through the services (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--orders", type=int, default=150, help="Orders per retailer (default 150)."
        )

    def handle(self, *args, **options):
        rls.use_all_retailers()  # a command works across retailers
        now = timezone.now()
        start = now - timedelta(days=DAYS)
        # background work runs here, when each change commits, on the simulated clock; email
        # is kept in memory, not printed
        eager = current_app.conf.task_always_eager
        current_app.conf.task_always_eager = True
        # not a line for every task run, nor for work left to a worker
        quiet = {name: logging.getLogger(name) for name in ("celery.app.trace", "kombu.connection")}
        levels = {name: logger.level for name, logger in quiet.items()}
        for logger in quiet.values():
            logger.setLevel(logging.ERROR)
        try:
            with (
                _quick_commits(),
                override_settings(MAILERS=KEPT_MAIL),
                time_machine.travel(start - timedelta(days=800), tick=False) as clock,
            ):
                with transaction.atomic():
                    retailers, users = _people()
                history = History(clock, now)
                created = 0
                for spec in RETAILERS:
                    demo = DemoRetailer(retailers[spec["ref"]], users, start, now)
                    created += demo.plan(history, options["orders"])
                history.play()
        finally:
            current_app.conf.task_always_eager = eager
            for name, logger in quiet.items():
                logger.setLevel(levels[name])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(retailers)} retailers, {len(LOGINS)} logins, "
                f"{created} new orders."
            )
        )


def _people() -> tuple[dict[str, Retailer], dict[str, User]]:
    retailers = {}
    for spec in RETAILERS:
        retailer, _ = Retailer.objects.get_or_create(
            ref=spec["ref"],
            defaults={k: v for k, v in spec.items() if k != "ref" and k not in SETUP},
        )
        retailer_ensure_defaults(retailer=retailer)
        retailers[retailer.ref] = retailer
    users = {}
    hashed = None  # one hash of the demo password serves every demo login (hashing is slow)
    for username, first, last, memberships, login in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@oms.localhost",
            },
        )
        if created:
            if login:
                hashed = hashed or make_password(DEMO_PASSWORD)
                user.password = hashed
            else:
                user.set_unusable_password()
            user.save(update_fields=["password"])
        for ref, role in memberships:
            Membership.objects.get_or_create(
                user=user, retailer=retailers[ref], defaults={"role": role}
            )
        users[username] = user
    for spec in RETAILERS:
        _setup(retailers[spec["ref"]], users, spec)
    return retailers, users


def _setup(retailer: Retailer, users: dict[str, User], spec: dict) -> None:
    """What the retailer's admin sets up on the first day: the seller's details printed on
    invoices, and the rules that hold an order when it is placed."""
    admin = next(
        users[username]
        for username, *_names, memberships, _login in USERS
        if (retailer.ref, Role.ADMIN) in memberships
    )
    billing.retailer_seller_update(retailer_id=retailer.pk, by=admin, **spec["seller"])
    known = set(HoldRule.objects.filter(retailer=retailer).values_list("name", flat=True))
    for name, kind, condition, amount, countries in spec["hold_rules"]:
        if name not in known:
            services.hold_rule_save(
                retailer_id=retailer.pk,
                by=admin,
                name=name,
                kind=kind,
                condition=condition,
                amount=amount,
                countries=countries,
            )


@contextmanager
def _quick_commits():
    """On SQLite, a commit does not wait for the disk while the demo loads (a crash of the
    machine in the meantime loses the demo data, nothing else): a thousand small transactions
    then take seconds, not minutes."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        (before,) = cursor.fetchone()
        cursor.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous = {int(before)}")


class History:
    """The lives of the demo's records, played together in the order of their moments.

    A life is a generator: it yields the moment of its next step, and the clock is there when
    the step runs. A step whose moment lies after now is not played: the record stays as it
    is today."""

    def __init__(self, clock, now: datetime) -> None:
        self.clock = clock
        self.now = now
        self.queue: list = []
        self.counter = itertools.count()

    def add(self, life: Life) -> None:
        self._next(life)

    def _next(self, life: Life) -> None:
        try:
            moment = next(life)
        except StopIteration:
            return
        if moment < self.now:
            heapq.heappush(self.queue, (moment, next(self.counter), life))

    def play(self) -> None:
        while self.queue:
            moment, _, life = heapq.heappop(self.queue)
            self.clock.move_to(moment)
            self._next(life)


@contextmanager
def worker_busy():
    """Work queued here is not run at once: it waits for a worker (a refund on its way)."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        yield
    finally:
        current_app.conf.task_always_eager = eager


def attempt(step: Callable, *args, **kwargs):
    """Run one step; a refusal (a rule of the services says no) leaves nothing and returns
    None."""
    try:
        return step(*args, **kwargs)
    except REFUSED:
        return None


def hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


class DemoRetailer:
    """One retailer's history: its network, customers, accounts, orders and intake."""

    def __init__(self, retailer: Retailer, users: dict, start: datetime, now: datetime) -> None:
        self.retailer = retailer
        self.start = start
        self.now = now
        self.prefix = retailer.ref.upper()[:3]
        members = dict(
            Membership.objects.filter(retailer=retailer).values_list("user__username", "role")
        )
        mine = {name: user for name, user in users.items() if name in members}
        self.agents = [u for n, u in mine.items() if members[n] == Role.AGENT]
        self.manager = next(
            (u for n, u in mine.items() if members[n] == Role.MANAGER),
            next(u for n, u in mine.items() if members[n] == Role.ADMIN),
        )
        self.admin = next(u for n, u in mine.items() if members[n] == Role.ADMIN)
        self.staff = [*self.agents, self.manager]
        self.faker = Faker(LOCALES[retailer.ref])
        self.statuses = {
            state: OrderStatus.objects.filter(retailer=retailer, system_state=state)
            .order_by("position", "pk")
            .first()
            for state in SystemState.values
        }

    # -- planning ----------------------------------------------------------------------------
    def plan(self, history: History, count: int) -> int:
        """Put the lives of what is missing on the history; returns how many orders."""
        history.add(self._network())
        pool = max(10, count // 3)
        customers = [self._customer_spec(n) for n in range(1, pool + 1)]
        have = set(
            Customer.objects.filter(retailer=self.retailer).values_list("email_key", flat=True)
        )
        for spec in customers:
            if search_key(spec["email"]) not in have:
                history.add(self._customer_life(spec))
        existing = set(Order.objects.filter(retailer=self.retailer).values_list("ref", flat=True))
        created = 0
        for number in range(1, count + 1):
            ref = f"{self.prefix}-{100000 + number}"
            if ref in existing:
                continue
            rng = random.Random(f"{self.retailer.ref}:{number}")
            placed = self.now - timedelta(minutes=rng.randrange(60, 60 * 24 * (DAYS - 5)))
            if number % 12 == 0:  # a few from today
                placed = self.now - timedelta(minutes=rng.randrange(5, 300))
            if number % 24 == 0:  # confirmed this morning, short of a scarce SKU: escalated
                placed = self.now - timedelta(minutes=rng.randrange(540, 600))
            eligible = [c for c in customers if c["since"] <= placed - timedelta(minutes=5)]
            # business customers order more often than others
            weights = [4 if c["segment"] == Customer.Segment.BUSINESS else 1 for c in eligible]
            customer = rng.choices(eligible, weights=weights)[0]
            history.add(self._order_life(ref, number, rng, placed, customer))
            if number % 24 == 12:  # the customer asks about it soon after
                history.add(self._question_life(ref, placed + timedelta(minutes=number % 50 + 5)))
            created += 1
        if created:
            history.add(self._restock_life())
        if not IntakeMessage.objects.filter(retailer=self.retailer).exists():
            history.add(self._intake_life())
        return created

    def _customer_spec(self, number: int) -> dict:
        rng = random.Random(f"{self.retailer.ref}:customer:{number}")
        self.faker.seed_instance(f"{self.retailer.ref}:{number}")
        first, last = self.faker.first_name(), self.faker.last_name()
        if number % 3 == 1:  # customers from before the demo's history
            since = self.start - timedelta(days=rng.randrange(30, 700))
        else:
            since = self.start + timedelta(minutes=rng.randrange(0, 60 * 24 * (DAYS - 10)))
        language = ""
        if self.retailer.ref == "acme":
            language = rng.choices(["", "nl", "de", "en"], weights=[50, 30, 12, 8])[0]
        return {
            "number": number,
            "first_name": first,
            "last_name": last,
            "email": f"{slugify(first)}.{slugify(last)}.{number}@example.com".replace("-", ""),
            "phone": PHONES[self.retailer.ref].format(rng.randrange(1000), rng.randrange(1000)),
            # every fifth a business, with a billing account
            "segment": Customer.Segment.BUSINESS
            if number % 5 == 2
            else rng.choices(list(Customer.Segment.values), weights=[78, 10, 10, 2])[0],
            "language": language,
            "since": since,
            "street": self.faker.street_address(),
            "postcode": self.faker.postcode(),
            "city": self.faker.city(),
            "rng": rng,
        }

    # -- the network, customers and accounts ----------------------------------------------------
    def _network(self) -> Life:
        """Locations, carriers and stock (rows: no service makes them): enough for most
        orders, the scarce SKUs short."""
        yield self.start - timedelta(days=60)
        country = COUNTRIES[self.retailer.ref]
        zones = [country, "BE"] if country == "NL" else [country]
        specs = [
            (f"{self.prefix}-DC", f"{self.retailer.name} distribution centre", "dc", 80),
            *[
                (f"{self.prefix}-S{i}", name, "store", 8)
                for i, name in enumerate(STORES[self.retailer.ref], start=1)
            ],
        ]
        with transaction.atomic():
            for ref, name, kind, capacity in specs:
                location, created = Location.objects.get_or_create(
                    retailer=self.retailer,
                    ref=ref,
                    defaults={
                        "name": name,
                        "type": kind,
                        "country": country,
                        "zones": zones,
                        "daily_capacity": capacity,
                        "city": name.split()[-1],
                    },
                )
                if not created:
                    continue
                rng = random.Random(f"{ref}:stock")
                for sku, _name, _price in CATALOGUE[self.retailer.ref]:
                    scarce = sku in SCARCE
                    StockPosition.objects.create(
                        retailer=self.retailer,
                        location=location,
                        sku=sku,
                        on_hand=(rng.randrange(0, 3) if scarce else rng.randrange(150, 300))
                        if kind == "dc"
                        else (0 if scarce else rng.randrange(5, 20)),
                        safety_threshold=2 if scarce else rng.randrange(2, 6),
                    )
            for position, name in enumerate(CARRIERS[self.retailer.ref]):
                Carrier.objects.get_or_create(
                    retailer=self.retailer,
                    name=name,
                    defaults={
                        "zones": zones,
                        "is_available": name != "DPD",
                        "transit_days": 1 + position % 2,
                    },
                )

    def _restock_life(self) -> Life:
        """The scarce SKUs come in at the distribution centre every few days (a stock upload,
        after which escalated fulfilments are sourced again)."""
        moment = self.start + timedelta(days=5, hours=7)
        while moment < self.now - timedelta(days=20):  # lately none came: escalations wait
            yield moment
            dc = Location.objects.get(retailer=self.retailer, ref=f"{self.prefix}-DC")
            positions = StockPosition.objects.filter(location=dc, sku__in=SCARCE)
            # topped up to a few units to spare: they stay scarce
            rows = [
                f"{dc.ref},{p.sku},{max(p.on_hand, p.reserved + p.safety_threshold + 3)}"
                for p in positions
            ]
            if rows:
                fulfilments.stock_import(
                    retailer_id=self.retailer.pk,
                    csv_text="location_ref,sku,on_hand\n" + "\n".join(rows) + "\n",
                    by=self.manager,
                )
            moment += timedelta(days=8)

    def _customer_life(self, spec: dict) -> Life:
        """The customer signs up in the storefront; a business customer gets a billing
        account, activated, charged and sometimes suspended by the back office."""
        rng = spec["rng"]
        yield spec["since"]
        with transaction.atomic():
            customer = customer_for_order(
                retailer_id=self.retailer.pk,
                email=spec["email"],
                first_name=spec["first_name"],
                last_name=spec["last_name"],
                phone=spec["phone"],
            )
            # the storefront's profile: no back-office service sets these on a new customer
            customer.segment = spec["segment"]
            customer.language = spec["language"]
            customer.save(update_fields=["segment", "language"])
        if customer.segment != Customer.Segment.BUSINESS and spec["number"] % 9:
            return
        yield max(spec["since"], self.start - timedelta(days=20)) + hours(rng, 20, 60)
        business = customer.segment == Customer.Segment.BUSINESS
        account = BillingAccount.objects.create(
            retailer=self.retailer,
            ref=f"BA-{customer.ref}",
            name=f"{customer.last_name} {'BV' if self.retailer.ref == 'acme' else 'Ltd'}"
            if business
            else f"{customer.full_name} account",
            type=BillingAccount.Type.BUSINESS if business else BillingAccount.Type.CONSUMER,
            status=BillingAccount.Status.PENDING,
            customer=customer,
            contact_email=customer.email,
            erp_reference=f"ERP-{customer.pk:06d}",
        )
        yield timezone.now() + hours(rng, 2, 30)
        billing.billing_account_set_status(
            account=account, by=self.manager, status=BillingAccount.Status.ACTIVE
        )
        if business:
            billing.billing_account_set_attribute(
                account=account, by=self.admin, key="payment_terms", value="30 days"
            )
        yield timezone.now() + timedelta(days=rng.randrange(10, 40))
        if business:
            billing.debit_memo_create(
                account=account, by=self.manager, amount=Decimal("15.00"), reason="Late payment fee"
            )
        if spec["number"] % 4 == 0:
            yield timezone.now() + timedelta(days=rng.randrange(1, 10))
            billing.billing_account_set_status(
                account=account, by=self.manager, status=BillingAccount.Status.SUSPENDED
            )

    # -- an order's life --------------------------------------------------------------------------
    def _order_life(
        self, ref: str, number: int, rng: random.Random, placed: datetime, spec: dict
    ) -> Life:
        fate = rng.choices([f for f, _ in FATES], weights=[w for _, w in FATES])[0]
        if fate == "new" and self.now - placed > timedelta(days=3):
            fate = "complete"  # an order is not left in New for long, nor in the warehouse
        if fate == "processing" and self.now - placed > timedelta(days=12):
            fate = "complete"
        if number % 24 == 0:
            fate = "processing"
        collect = rng.random() < 0.15 and fate in ("complete", "processing")
        carrier = rng.choice([c for c in CARRIERS[self.retailer.ref] if c != "DPD"])
        method = (
            "Store collection"
            if collect
            else rng.choice(["Standard delivery", "Next-day delivery", "Evening delivery"])
        )
        lines = self._lines(rng, fate, method)
        if number % 24 == 0 and not collect:  # more of a scarce SKU than is in stock today
            sku, name, price = next(i for i in CATALOGUE[self.retailer.ref] if i[0] in SCARCE)
            lines = [line for line in lines if line.sku != sku] + [
                services.LineInput(
                    sku=sku,
                    name=name,
                    quantity=4,
                    unit_price=Decimal(price),
                    shipping_method=method,
                )
            ]
        shipping = Decimal("0.00") if collect else Decimal("4.95")
        yield placed
        customer = Customer.objects.get(retailer=self.retailer, email_key=search_key(spec["email"]))
        address = services.AddressInput(
            name=customer.full_name,
            line1=spec["street"],
            postcode=spec["postcode"],
            city=spec["city"],
            country=COUNTRIES[self.retailer.ref],
            phone=customer.mobile,
        )
        unpaid = fate == "unpaid"
        order = services.order_place(
            data=services.OrderInput(
                retailer_id=self.retailer.pk,
                ref=ref,
                currency=self.retailer.currency,
                customer=customer,
                channel=rng.choices(["web", "phone", "store", "marketplace"], [60, 15, 15, 10])[0],
                type=OrderType.CLICK_AND_COLLECT if collect else OrderType.HOME_DELIVERY,
                shipping=shipping,
                shipping_address=address,
                delivery_method=method,
                carrier="" if collect else carrier,
                collection_location=rng.choice(STORES[self.retailer.ref]) if collect else "",
                promised_date=(placed + timedelta(days=rng.randrange(2, 6))).date(),
                lines=lines,
                payment=None
                if unpaid
                else services.PaymentInput(
                    method=rng.choices(["card", "paypal", "ideal", "klarna"], [50, 25, 15, 10])[0],
                    provider_reference=f"psp_{ref}",
                ),
            ),
            by=None,
        )
        if unpaid:  # a bank transfer the customer has still to make, or never made
            yield from self._chatter(order, rng, placed, days=4)
            yield placed + timedelta(days=10, hours=rng.randrange(8, 12))
            services.order_cancel(
                order=order, by=self.manager, notify=True, reason="Not paid within 10 days"
            )
            return
        payment = order.payments.get()
        yield from self._rule_holds_checked(order, rng)
        go_on = yield from self._early(order, rng, fate)
        if not go_on:
            return
        if fate == "suspend" and rng.random() < 0.5:  # suspended while new
            yield timezone.now() + hours(rng, 1, 12)
            services.order_suspend(
                order=order, by=self.manager, reason="Customer asked to hold the order"
            )
            yield from self._chatter(order, rng, timezone.now(), days=3)
            return
        # confirmed and sourced, then captured
        yield timezone.now() + hours(rng, 1, 8)
        confirmed = attempt(
            services.order_set_status,
            order=order,
            status=self.statuses[SystemState.PROCESSING],
            by=self.manager,
        )
        if confirmed is None:  # nothing could ship: it waits in New
            return
        yield timezone.now() + hours(rng, 0.2, 3)
        if fate == "declined" and order.total > 2:  # the issuer says no (the simulated
            # gateway declines amounts ending in .51): a failed operation for a manager
            amount = (order.total - 1).quantize(Decimal("1"), ROUND_DOWN) + Decimal("0.51")
            services.order_payment_capture(payment=payment, amount=amount, by=self.manager)
            return
        partly = fate == "processing" and rng.random() < 0.2
        amount = (order.total / 2).quantize(CENT) if partly else order.total
        services.order_payment_capture(payment=payment, amount=amount, by=self.manager)
        yield from self._chatter(order, rng, timezone.now(), days=5)
        if fate == "cancel_paid":
            yield timezone.now() + hours(rng, 1, 20)
            attempt(
                services.order_cancel,
                order=order,
                by=self.manager,
                notify=True,
                reason="Customer cancelled before shipping",
            )
            return
        if fate == "suspend":
            yield timezone.now() + hours(rng, 1, 12)
            services.order_suspend(order=order, by=self.manager, reason="Address to be checked")
            if rng.random() < 0.4:
                yield timezone.now() + hours(rng, 12, 48)
                services.order_resume(order=order, by=self.manager)
            return
        escalated = Fulfilment.objects.filter(order=order, status=FulfilmentStatus.ESCALATED)
        if escalated.exists():
            yield timezone.now() + hours(rng, 6, 48)
            waiting = escalated.first()  # unless stock came in meanwhile
            if waiting is not None and rng.random() < 0.35:  # the manager gives up on it
                attempt(services.fulfilment_lines_cancel, fulfilment=waiting, by=self.manager)
        if fate == "cancel_line" and order.lines.count() > 1:
            yield timezone.now() + hours(rng, 1, 10)
            line = order.lines.order_by("-position").first()
            attempt(
                services.order_lines_cancel,
                order=order,
                line_ids=[line.pk],
                by=self.manager,
                reason="Out of stock at the supplier",
            )
        if fate == "processing":
            yield from self._pick(order, rng)
            return
        yield from self._ship(order, rng, carrier)

    def _question_life(self, ref: str, moment: datetime) -> Life:
        """A customer's question through the storefront, not answered yet."""
        yield moment
        subject, question, _answer = QUESTIONS[0]
        order = Order.objects.get(retailer=self.retailer, ref=ref)
        attempt(
            services.ticket_customer_message,
            order=order,
            by=self.agents[0],  # the storefront's account delivers it
            body=question,
            subject=subject,
        )

    def _lines(self, rng: random.Random, fate: str, method: str) -> list:
        catalogue = CATALOGUE[self.retailer.ref]
        count = rng.randrange(2 if fate == "cancel_line" else 1, min(4, len(catalogue)) + 1)
        chosen = rng.sample(catalogue, count)
        if rng.random() < 0.6:  # the scarce SKUs sell less often
            chosen = [item for item in chosen if item[0] not in SCARCE] or chosen
        lines = []
        for sku, name, price in chosen:
            unit_price = Decimal(price)
            quantity = rng.choices([1, 2, 3], weights=[75, 20, 5])[0]
            discount = (
                (unit_price * quantity * Decimal("0.10")).quantize(CENT, ROUND_HALF_UP)
                if rng.random() < 0.15
                else Decimal("0.00")
            )
            lines.append(
                services.LineInput(
                    sku=sku,
                    name=name,
                    quantity=quantity,
                    unit_price=unit_price,
                    discount=discount,
                    tax_rate=Decimal(rng.choice(TAX_RATES[self.retailer.ref])),
                    shipping_method=method,
                )
            )
        return lines

    def _rule_holds_checked(self, order: Order, rng: random.Random) -> Life:
        """A hold one of the retailer's rules set when the order was placed: within hours a
        manager checks the order with the customer and clears it, unless it is still waiting
        today."""
        order.refresh_from_db()
        for flag in ("documentation", "compliance"):
            if getattr(order, f"hold_{flag}_rule_id"):
                yield timezone.now() + hours(rng, 0.5, 6)
                services.order_hold_clear(
                    order=order,
                    flag=flag,
                    by=self.manager,
                    reason="Checked with the customer: all in order",
                )

    def _early(self, order: Order, rng: random.Random, fate: str) -> Life:
        """What happens to a new order: a hold (cleared after a while), a fraud check, an
        early cancellation. Returns whether the order goes on to be confirmed."""
        if fate == "held":
            yield timezone.now() + timedelta(minutes=rng.randrange(10, 120))
            services.order_hold_set(
                order=order,
                flag=rng.choice(["documentation", "compliance"]),
                by=self.manager,
                reason="Waiting for the customer's company registration"
                if rng.random() < 0.5
                else "Unusual order value for this customer",
            )
            yield from self._chatter(order, rng, timezone.now(), days=4)
            yield timezone.now() + timedelta(days=rng.randrange(2, 6), hours=rng.randrange(8))
            services.order_hold_clear(
                order=order,
                flag="documentation"
                if Order.objects.get(pk=order.pk).hold_documentation
                else "compliance",
                by=self.manager,
                reason="Checked with the customer: all in order",
            )
            return True
        elif fate == "fraud":
            yield timezone.now() + timedelta(minutes=rng.randrange(10, 240))
            services.order_hold_set(
                order=order, flag="compliance", by=self.manager, reason="Card flagged by the issuer"
            )
            services.order_set_status(
                order=order, status=self.statuses[SystemState.FRAUD], by=self.manager
            )
        elif fate == "cancel_new":
            yield timezone.now() + hours(rng, 1, 30)
            services.order_cancel(
                order=order, by=self.manager, notify=True, reason="Customer changed their mind"
            )
        elif fate == "new":
            yield from self._chatter(order, rng, timezone.now(), days=2)
        return fate not in ("new", "fraud", "cancel_new")

    def _pick(self, order: Order, rng: random.Random) -> Life:
        """The warehouse works on it: picked, perhaps packed."""
        for step in rng.choice([[], [FulfilmentStatus.PICKED], ["PICKED", "PACKED"]]):
            yield timezone.now() + hours(rng, 1, 10)
            for fulfilment in Fulfilment.objects.filter(
                order=order, status__in=[FulfilmentStatus.ASSIGNED, FulfilmentStatus.PICKED]
            ).order_by("pk"):
                attempt(
                    fulfilments.fulfilment_move, fulfilment=fulfilment, to=step, by=self.manager
                )

    def _ship(self, order: Order, rng: random.Random, carrier_name: str) -> Life:
        """Sent with a tracking number, scanned by the carrier, delivered (or collected),
        completed, and sometimes returned. Items that waited for stock (escalated, sourced
        again when stock came in) go in a later parcel."""
        yield timezone.now() + hours(rng, 3, 30)
        if order.type == OrderType.CLICK_AND_COLLECT:
            yield from self._collect(order, rng)
            return
        for _parcel in range(4):
            done = yield from self._parcel(order, rng, carrier_name)
            if done:
                lately = self.now - timezone.now() < timedelta(days=12)
                business = order.customer.segment == Customer.Segment.BUSINESS
                if rng.random() < (0.7 if lately or business else 0.35):
                    yield from self._return(order, rng)
                return
            yield timezone.now() + timedelta(days=rng.randrange(2, 5), hours=rng.randrange(8))

    def _parcel(self, order: Order, rng: random.Random, carrier_name: str) -> Life:
        """One parcel: what is sourced is sent, scanned, delivered; then the order completes
        when nothing waits. Returns whether it completed."""
        tracking = f"{carrier_name[:2].upper()}{rng.randrange(10**9, 10**10)}{self.prefix[:2]}"
        shipment = attempt(
            services.order_mark_sent,
            order=order,
            by=self.manager,
            tracking_number=tracking,
            carrier=carrier_name,
        )
        if shipment is None:
            return False
        carrier = Carrier.objects.filter(retailer=self.retailer, name=carrier_name).first()
        transit = max(1, carrier.transit_days if carrier and carrier.transit_days else 2)
        shipment = Shipment.objects.get(pk=shipment.pk)
        if shipment.estimated_delivery is None:  # the carrier's estimate at its first scan
            shipment.estimated_delivery = (timezone.now() + timedelta(days=transit + 1)).date()
            shipment.save(update_fields=["estimated_delivery"])
        city = order.shipping_address.city if order.shipping_address else ""
        self._scan(shipment, Shipment.Status.LABEL_CREATED, "Shipping label created", "Warehouse")
        yield timezone.now() + hours(rng, 2, 6)
        self._scan(shipment, Shipment.Status.IN_TRANSIT, "Parcel received by the carrier", "Hub")
        yield timezone.now() + hours(rng, 4, 10)
        self._scan(shipment, Shipment.Status.IN_TRANSIT, "Parcel sorted for delivery", "Depot")
        yield timezone.now() + timedelta(days=transit - 1) + hours(rng, 8, 14)
        self._scan(shipment, Shipment.Status.OUT_FOR_DELIVERY, "Out for delivery", "Depot")
        yield timezone.now() + hours(rng, 1, 6)
        self._scan(shipment, Shipment.Status.DELIVERED, "Delivered", city)
        with transaction.atomic():
            for fulfilment in Fulfilment.objects.filter(
                order=order, status=FulfilmentStatus.SHIPPED
            ).order_by("pk"):
                fulfilments.fulfilment_move(
                    fulfilment=fulfilment, to=FulfilmentStatus.DELIVERED, by=self.manager
                )
        yield timezone.now() + hours(rng, 1, 20)
        done = attempt(
            services.order_set_status,
            order=order,
            status=self.statuses[SystemState.COMPLETED],
            by=self.manager,
        )
        return done is not None

    def _collect(self, order: Order, rng: random.Random) -> Life:
        """Click and collect: picked, packed, ready at the store, collected."""
        for step in ("PICKED", "PACKED", "READY_FOR_COLLECTION", "COLLECTED"):
            for fulfilment in Fulfilment.objects.filter(order=order).exclude(
                status__in=[
                    FulfilmentStatus.ESCALATED,
                    FulfilmentStatus.CANCELLED,
                    FulfilmentStatus.COLLECTED,
                ]
            ):
                attempt(
                    fulfilments.fulfilment_move, fulfilment=fulfilment, to=step, by=self.manager
                )
            yield timezone.now() + hours(rng, 2, 30)
        attempt(
            services.order_set_status,
            order=order,
            status=self.statuses[SystemState.COMPLETED],
            by=self.manager,
        )

    def _scan(self, shipment: Shipment, status: str, description: str, where: str) -> None:
        """The carrier's tracking feed (no service of ours makes it): a scan, and the
        shipment's status after it."""
        now = timezone.now()
        with transaction.atomic():
            ShipmentEvent.objects.create(
                retailer_id=shipment.retailer_id,
                shipment=shipment,
                status=status,
                description=description,
                location=where,
                occurred_at=now,
            )
            shipment.status = status
            fields = ["status"]
            if status == Shipment.Status.DELIVERED:
                shipment.delivered_at = now
                fields.append("delivered_at")
                activity.record(
                    action="orders.shipment.delivered",
                    target=shipment,
                    root=shipment.order,
                    by=None,
                    data={"carrier": shipment.carrier},
                )
            shipment.save(update_fields=fields)

    def _return(self, order: Order, rng: random.Random) -> Life:
        """The customer sends something back: booked with a parcel, received, refunded; or
        kept by an agent for an exchange, or waiting for a manager's refund."""
        yield timezone.now() + timedelta(days=rng.randrange(1, 8), hours=rng.randrange(0, 10))
        units = order.lines.units()
        line = next((ln for ln in order.lines.order_by("pk") if units[ln.pk].returnable), None)
        if line is None:
            return
        kind = rng.choices(["parcel", "exchange", "agent"], weights=[70, 12, 18])[0]
        reason = rng.choice(["DAMAGED", "NOT_AS_DESCRIBED", "CHANGED_MIND"])
        if kind == "exchange":
            reason = "WRONG_SIZE"
        customer = order.customer
        choice = None
        if kind == "parcel":
            location = rng.choice([f"{self.prefix}-DC", f"{self.prefix}-S1"])
            choice = {
                "fulfilmentType": "R_RTDC" if location.endswith("DC") else "R_RTS",
                "preferredLocationRef": location,
                "fulfilmentPrice": None,
                "fulfilmentTaxPrice": None,
                "currency": order.currency,
                "address": None,
            }
        ret = attempt(
            returns.return_create,
            data=returns.ReturnInput(
                retailer_id=self.retailer.pk,
                type="CUSTOMER_RETURN",
                order=order,
                customer=returns.CustomerInput(
                    email=customer.email,
                    first_name=customer.first_name,
                    last_name=customer.last_name,
                    mobile=customer.mobile,
                    customer_ref=customer.ref,
                ),
                items=[
                    returns.ItemInput(
                        sku_ref=line.sku,
                        order_line=line,
                        reason=reason,
                        condition=rng.choice(["0", "0", "1", "2"]),
                    )
                ],
                fulfilment_choice=choice,
            ),
            by=rng.choice(self.agents),
        )
        if ret is None or kind == "exchange":
            return
        if kind == "agent":  # PENDING_REFUND: a manager gives it back, or it waits
            if rng.random() < 0.4:
                return
            yield timezone.now() + timedelta(days=rng.randrange(1, 4), hours=rng.randrange(0, 8))
            attempt(
                returns.return_release_refund, ret=ret, by=self.manager, by_hand=rng.random() < 0.5
            )
            return
        parcel = ret.fulfilments.get()
        yield timezone.now() + timedelta(days=rng.randrange(2, 5), hours=rng.randrange(0, 8))
        recent = self.now - timezone.now() < timedelta(days=4)
        if recent:  # the refund waits for a worker: LODGED
            with worker_busy():
                returns.return_fulfilment_move(
                    fulfilment=parcel, to=ReturnFulfilment.Status.ARRIVED, by=self.manager
                )
            return
        returns.return_fulfilment_move(
            fulfilment=parcel, to=ReturnFulfilment.Status.ARRIVED, by=self.manager
        )
        yield timezone.now() + hours(rng, 10, 30)
        returns.return_fulfilment_move(
            fulfilment=ReturnFulfilment.objects.get(pk=parcel.pk),
            to=ReturnFulfilment.Status.COMPLETE,
            by=self.manager,
        )

    def _chatter(self, order: Order, rng: random.Random, since: datetime, *, days: int) -> Life:
        """What people say about the order while it is worked: comments, memos, tasks and a
        customer's question (answered, unless it came in lately)."""
        if rng.random() < 0.3:
            yield since + hours(rng, 0.5, 24 * days)
            services.comment_add(order=order, by=rng.choice(self.staff), body=rng.choice(COMMENTS))
        if rng.random() < 0.05:
            yield timezone.now() + hours(rng, 0.2, 12)
            services.memo_add(
                order=order,
                by=rng.choice(self.staff),
                body="VIP customer: handle any complaint with priority.",
            )
        if rng.random() < 0.2:
            yield timezone.now() + hours(rng, 0.2, 24)
            task = services.task_add(
                order=order,
                by=rng.choice(self.staff),
                description=rng.choice(TASKS),
                # the retailer's first agent (the demo's login) has the most to do
                assignee=self.agents[0] if rng.random() < 0.5 else rng.choice(self.staff),
                due_at=timezone.now() + timedelta(days=rng.randrange(1, 5)),
            )
            lately = self.now - timezone.now() < timedelta(days=10)
            if rng.random() < (0.3 if lately else 0.9):  # old tasks were seen to
                yield timezone.now() + hours(rng, 2, 48)
                services.task_set_status(task=task, by=task.assignee, status=Task.Status.DONE)
        lately = self.now - since < timedelta(days=3)
        if rng.random() < (0.3 if lately else 0.12):
            subject, question, answer = rng.choice(QUESTIONS)
            yield timezone.now() + hours(rng, 1, 30)
            storefront = self.agents[0]  # the storefront's account delivers the message
            message = services.ticket_customer_message(
                order=order, by=storefront, body=question, subject=subject
            )
            if self.now - timezone.now() < timedelta(days=2):
                return  # asked lately: it waits for an answer
            yield timezone.now() + hours(rng, 1, 6)
            ticket = Ticket.objects.get(pk=message.ticket_id)
            services.ticket_reply(ticket=ticket, by=rng.choice(self.agents), body=answer)
            if rng.random() < 0.5:
                yield timezone.now() + hours(rng, 12, 48)
                services.ticket_close(ticket=Ticket.objects.get(pk=ticket.pk), by=self.manager)

    # -- intake ------------------------------------------------------------------------------
    def _intake_life(self) -> Life:
        """Channels of each kind and a day of messages: accepted, updated, duplicated, stale,
        cancelled, rejected with every fault named, and one dead."""
        yield self.now - timedelta(hours=30)
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
        rng = random.Random(f"{self.retailer.ref}:intake")
        country, currency = COUNTRIES[self.retailer.ref], self.retailer.currency
        catalogue = CATALOGUE[self.retailer.ref]

        def web_order(n: int, **changes) -> dict:
            sku, name, price = catalogue[n % len(catalogue)]
            if sku in SCARCE:
                sku, name, price = catalogue[1]
            stamp = timezone.now().isoformat()
            payload = {
                "id": f"{self.prefix}W{n:04d}",
                "created_at": stamp,
                "updated_at": stamp,
                "currency": currency,
                "customer": {
                    "email": f"web.buyer{n}@example.com",
                    "first_name": "Web",
                    "last_name": f"Buyer {n}",
                    "phone": PHONES[self.retailer.ref].format(n, n),
                },
                "shipping_address": {
                    "street": f"Main street {n}",
                    "zip": "1000 AA" if country == "NL" else "LS1 4AP",
                    "city": "Utrecht" if country == "NL" else "Leeds",
                    "country": country,
                },
                "lines": [{"sku": sku, "title": name, "qty": 1, "price": price}],
                "shipping_cost": "0.00",
                "total": price,
                "payment": {"method": "card"},
            }
            return payload | changes

        def receive(channel, payload) -> None:
            body = payload if isinstance(payload, str) else json.dumps(payload)
            intake_receive(channel=channel, body=body)

        sent = {}
        for n in range(1, 7):
            yield timezone.now() + hours(rng, 0.5, 3)
            sent[n] = web_order(n)
            receive(web, sent[n])
        yield timezone.now() + hours(rng, 0.2, 1)
        receive(web, sent[2])  # the web store sent it twice: DUPLICATE
        yield timezone.now() + hours(rng, 0.5, 2)
        update = dict(sent[3], event="updated", updated_at=timezone.now().isoformat())
        update["lines"] = [dict(update["lines"][0], qty=2)]
        update["total"] = str(Decimal(update["lines"][0]["price"]) * 2)
        receive(web, update)
        yield timezone.now() + hours(rng, 0.2, 1)
        receive(web, sent[3] | {"event": "updated"})  # an older version, late: STALE
        yield timezone.now() + hours(rng, 0.5, 2)
        receive(web, {"id": sent[5]["id"], "event": "cancelled"})
        yield timezone.now() + hours(rng, 0.5, 2)
        receive(web, web_order(7, currency="USD"))  # rejected: the wrong currency
        yield timezone.now() + hours(rng, 0.5, 2)
        faulty = web_order(8)
        faulty["customer"] = dict(faulty["customer"], email="")
        faulty["lines"] = [dict(faulty["lines"][0], qty=0)]
        receive(web, faulty)  # rejected: no email and no quantity
        cents = int(Decimal(catalogue[1][2]) * 100)
        for n in range(1, 5):
            yield timezone.now() + hours(rng, 0.5, 3)
            payload = {
                "orderNumber": f"{self.prefix}M{n:04d}",
                "status": "NEW",
                "orderDate": timezone.now().isoformat(),
                "buyer": {
                    "name": {"given": "Market", "family": f"Buyer {n}"},
                    "contact": {"mail": f"market.buyer{n}@example.com"},
                },
                "delivery": {
                    "address": {
                        "addressLines": [f"Side street {n}"],
                        "postalCode": "2000 BB" if country == "NL" else "LS2 7EY",
                        "town": "Leiden" if country == "NL" else "Leeds",
                        "countryCode": country if n != 4 else "Atlantis",
                    },
                    "fee": {"amount": 0, "currency": currency},
                },
                "items": [
                    {
                        "offer": {"sku": catalogue[1][0], "label": catalogue[1][1]},
                        "quantity": 1,
                        "unitPrice": {"amount": cents, "currency": currency},
                    }
                ],
                "totals": {
                    "grandTotal": {"amount": cents + (500 if n == 3 else 0), "currency": currency}
                },
            }
            receive(market, payload)
        yield timezone.now() + hours(rng, 0.5, 2)
        # a message whose worker died on its last attempt (the database was restarting)
        IntakeMessage.objects.create(
            retailer=self.retailer,
            channel=market,
            body='{"orderNumber": "' + self.prefix + 'M9999"',
            external_id=f"{self.prefix}M9999",
            status=IntakeMessage.Status.DEAD,
            attempts=5,
            reasons=["OperationalError: the database was restarting (5 attempts)"],
            processed_at=timezone.now(),
        )
