"""Fill Postgres with a large, realistic data set for the benchmarks in `bench/`.

    python manage.py generate_data --orders 1000000 --retailers 20

Retailers `bench-01` ... `bench-NN` are created with skewed sizes (the first holds about a fifth
of the orders), each with its statuses, return configuration, locations, carriers and stock.
Orders carry 1 to 10 lines, a payment with its transactions, shipments with carrier events,
fulfilments with items (some escalated), returns for a share of the completed ones, comments,
tickets, tasks and their activity; customers are picked with a skew, so some have long histories.

Rows are written with COPY in batches, with ids allocated here, so a million orders take minutes,
not hours. It does not call the services: placing, confirming, capturing and shipping a million
orders through them, each in its own locked transaction with its activity, email and background
work, would take many hours. Instead every order's life is written consistent by construction,
keeping the rules the services keep (`Life`): each step happens at its moment after placing and
none after now; a fulfilment only once the order is confirmed, its units shipped, waiting or
cancelled as its lines say; every movement of money a ledger row, the payment's figures and the
order's payment status as the ledger adds them up (`billing.ledger`); a cancelled order's units
cancelled and its money given back or released; a complete return refunded for what it is worth;
stock reserved for what waits at each location. `manage.py check_consistency` proves it: on this
command's output it finds 0 contradictions (`tests/orders/test_generate_data.py`).

The data is deterministic for a given --seed. Staff logins: `bench.agent` and
`bench.manager` (both of bench-01) and `bench.multi` (agent of every bench retailer), password
`bench-password`.
"""

# ruff: noqa: SIM905

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.db.models import Sum

from billing import ledger
from billing.models import Payment, PaymentTransaction
from customers.models import Address, Customer
from fulfilments.models import (
    RESERVING,
    Carrier,
    Fulfilment,
    FulfilmentItem,
    Location,
    StockPosition,
)
from oms import rls
from oms.models import Activity, Membership, Retailer, User
from oms.roles import Role
from orders.models import (
    Comment,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    SystemState,
    Task,
    Ticket,
    TicketMessage,
)
from orders.services.notes import order_statuses_ensure_defaults
from returns.models import Return, ReturnAction, ReturnFulfilment, ReturnItem, ReturnReason
from returns.services import return_config_ensure_defaults

PASSWORD = "bench-password"
BATCH_ORDERS = 20_000
LARGEST_SHARE = 0.2
HISTORY_DAYS = 730

FIRST_NAMES = (
    "Emma Liam Olivia Noah Ava Lucas Mia Levi Sophie Daan Julia Sem Tess Finn Anna Milan Sara "
    "Jesse Lotte Bram Eva Thomas Nora Lars Fleur Ruben Isa Max Lisa Sven Zoe Luuk Roos Tim Vera "
    "Hugo Sanne Jan Maud Koen Femke Pieter Ilse Joris Marit Stijn Anouk Niels Esther Wouter Lieke "
    "James Amelia Oliver Isla George Grace Harry Freya Jack Ella Oscar Lily Charlie Chloe Alfie "
    "Ivy Leo Evie Archie Florence Henry Rosie Arthur Alice Theo Poppy Joshua Matilda Jacob Daisy"
).split()
LAST_NAMES = (
    "de Jong,Jansen,de Vries,van den Berg,van Dijk,Bakker,Janssen,Visser,Smit,Meijer,de Boer,"
    "Mulder,de Groot,Bos,Vos,Peters,Hendriks,van Leeuwen,Dekker,Brouwer,de Wit,Dijkstra,Smits,"
    "de Graaf,van der Meer,van der Linden,Kok,Jacobs,de Haan,Vermeulen,van den Heuvel,van der Veen,"
    "Smith,Jones,Taylor,Brown,Williams,Wilson,Johnson,Davies,Robinson,Wright,Thompson,Evans,Walker,"
    "White,Roberts,Green,Hall,Wood,Jackson,Clarke,Patel,Khan,Lewis,James,Phillips,Mason,Mitchell"
).split(",")
CITIES = [
    ("Amsterdam", "NL"),
    ("Rotterdam", "NL"),
    ("Utrecht", "NL"),
    ("Eindhoven", "NL"),
    ("Groningen", "NL"),
    ("London", "GB"),
    ("Leeds", "GB"),
    ("Bristol", "GB"),
    ("Berlin", "DE"),
    ("Antwerp", "BE"),
]
STREETS = "Kerkstraat,Dorpsstraat,Stationsweg,Molenweg,High Street,Church Lane,Mill Road".split(",")
PRODUCTS = (
    "shoe jacket sock pack bottle torch tent guide kettle towel lamp pan duvet mug shirt "
    "scarf glove hat belt wallet chair table rug vase clock"
).split()
ADJECTIVES = "Trail Merino Oak Steel Cotton Linen Wool Canvas Leather Bamboo Cedar".split()
CARRIERS = ["PostNL", "DHL", "DPD", "UPS", "Royal Mail"]
CHANNELS = (["web", "app", "store", "marketplace", "phone"], [55, 20, 10, 10, 5])
METHODS = (["card", "ideal", "paypal", "klarna", "gift_card"], [45, 25, 15, 10, 5])
LINE_COUNTS = (list(range(1, 11)), [30, 22, 15, 10, 7, 5, 4, 3, 2, 2])
RECENT_STATES = (
    [
        SystemState.NEW,
        SystemState.PROCESSING,
        SystemState.COMPLETED,
        SystemState.CANCELLED,
        SystemState.FRAUD,
        SystemState.SUSPENDED,
    ],
    [30, 35, 20, 5, 3, 7],
)
OLD_STATES = (
    [SystemState.COMPLETED, SystemState.CANCELLED, SystemState.SUSPENDED, SystemState.FRAUD],
    [86, 11, 2, 1],
)
# when each step of an order's life happens, in seconds after it was placed
AUTHORISED = 30
CONFIRMED = 3600  # confirmed and sourced: its fulfilment is made
CAPTURED = CONFIRMED + 60
CANCELLED = 2 * 3600
LABELLED = 22 * 3600
SHIPPED = 24 * 3600
DELIVERED = 48 * 3600
RETURNED = 10 * 86400
RETURN_ARRIVED = 11 * 86400  # and refunded, when the return is complete
# what a line reads while its fulfilment is being worked
LINE_STATUS = {"ASSIGNED": "pending", "PICKED": "picked", "PACKED": "packed"}
COMMENTS = [
    "Customer called to ask when the parcel arrives; gave them the tracking link.",
    "Address checked with the customer: correct.",
    "Customer asked to leave the parcel with the neighbours.",
    "Chased the carrier about the delay.",
    "Customer asked for a gift receipt.",
]


def retailer_shares(count: int) -> list[float]:
    """The share of all orders each retailer holds, largest first, tailing off as Zipf's law
    does, with the exponent chosen so that the largest holds about a fifth."""
    if count * LARGEST_SHARE <= 1:
        exponent = 1.0  # too few retailers for the first to hold only a fifth
    else:
        low, high = 0.0, 8.0
        for _ in range(60):
            exponent = (low + high) / 2
            first = 1 / sum(k**-exponent for k in range(1, count + 1))
            low, high = (exponent, high) if first < LARGEST_SHARE else (low, exponent)
    weights = [k**-exponent for k in range(1, count + 1)]
    return [w / sum(weights) for w in weights]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Life:
    """Where an order's life got to, as the services would have taken it there: what its
    lines, fulfilment and activity say, and when each step happened."""

    state: str
    escalated: bool  # confirmed, but no location could take it
    shipped: bool
    returned: bool
    sourced: str | None  # the status of its fulfilment while it is worked

    @classmethod
    def of(cls, state: str, rng: random.Random) -> Life:
        working = state in (SystemState.PROCESSING, SystemState.SUSPENDED)
        # waiting for a location: some orders being worked, and more of those put on hold
        escalated = working and rng.random() < (0.1 if state == SystemState.PROCESSING else 0.3)
        shipped = not escalated and (
            state == SystemState.COMPLETED
            or (state == SystemState.PROCESSING and rng.random() < 0.5)
        )
        returned = state == SystemState.COMPLETED and rng.random() < 0.06
        sourced = None
        if working and not (shipped or escalated):
            sourced = rng.choice(list(LINE_STATUS))
        return cls(state, escalated, shipped, returned, sourced)

    @property
    def span(self) -> int:
        """How long after placing its last step happened."""
        if self.state == SystemState.COMPLETED:
            return RETURN_ARRIVED if self.returned else DELIVERED
        if self.state == SystemState.PROCESSING:
            return SHIPPED if self.shipped else CAPTURED
        if self.state == SystemState.CANCELLED:
            return CANCELLED
        return AUTHORISED if self.state == SystemState.NEW else CONFIRMED

    @property
    def updated(self) -> int:
        return self.span

    @property
    def status_changed(self) -> int:
        return {SystemState.COMPLETED: DELIVERED, SystemState.CANCELLED: CANCELLED}.get(
            self.state, CONFIRMED
        )

    @property
    def line_status(self) -> str:
        if self.state == SystemState.COMPLETED:
            return "delivered"
        if self.state == SystemState.CANCELLED:
            return "cancelled"
        if self.shipped:
            return "shipped"
        return LINE_STATUS.get(self.sourced, "pending")

    def fulfilment(self, collect: bool) -> str | None:
        """Its fulfilment's status; None when it was never confirmed."""
        if self.escalated:
            return "ESCALATED"
        if self.state == SystemState.COMPLETED:
            return "COLLECTED" if collect else "DELIVERED"
        if self.state == SystemState.CANCELLED:
            return "CANCELLED"
        if self.shipped:
            return "SHIPPED"
        return self.sourced


class Returned(NamedTuple):
    """What a customer sent back: the return's id, its lines, status, reason (id, label,
    action), the shipping it gives back and what it is worth (cents)."""

    id: int
    lines: list
    status: str
    reason: tuple
    shipping: int
    worth: int


class Table:
    """Rows of one model, buffered as COPY text and written in batches.

    The columns a generator fills are named; every other non-null column takes its field
    default, computed once, so the rows are what the ORM would have written.
    """

    def __init__(self, model: type[models.Model], columns: list[str]):
        self.model = model
        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise CommandError(f"{self.name} has no columns {sorted(unknown)}")
        defaults = []
        for column, field in fields.items():
            if column in columns or field.null or field.has_db_default() or field.generated:
                continue
            default = field.get_default()
            if default is None:
                raise CommandError(f"{self.name}.{column} needs a value")
            defaults.append((column, _copy_value(default)))
        self.columns = columns + [c for c, _ in defaults]
        self.suffix = "".join("\t" + v for _, v in defaults) + "\n"
        self.rows: list[str] = []
        self.written = 0
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{self.name}"')  # noqa: S608
            self.last_id = cursor.fetchone()[0]

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def add(self, *values) -> None:
        self.rows.append("\t".join(r"\N" if v is None else str(v) for v in values) + self.suffix)

    def flush(self) -> None:
        if not self.rows:
            return
        columns = ", ".join(f'"{c}"' for c in self.columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f'COPY "{self.name}" ({columns}) FROM STDIN') as copy:
                copy.write("".join(self.rows))
        self.written += len(self.rows)
        self.rows = []

    def reset_sequence(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, true)",
                [f'"{self.name}"', max(self.last_id, 1)],
            )


class Command(BaseCommand):
    help = "Fill Postgres with bench retailers, orders and everything around them (COPY)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=100_000, help="Orders in all.")
        parser.add_argument("--retailers", type=int, default=20, help="Retailers to share them.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (same data again).")

    def handle(self, *args, **options):
        rls.use_all_retailers()  # a command works across retailers
        if connection.vendor != "postgresql":
            raise CommandError("generate_data writes with COPY: point DATABASE_URL at Postgres.")
        if options["orders"] < 1 or options["retailers"] < 1:
            raise CommandError("--orders and --retailers must be at least 1.")
        if Retailer.objects.filter(ref__startswith="bench-").exists():
            raise CommandError(
                "Bench retailers exist already: generate into an empty database "
                "(`make bench` makes its own)."
            )
        started = time.monotonic()
        self.rng = random.Random(options["seed"])
        self.now = time.time()
        self.tables = self._tables()
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            # The rows are generated consistent, so foreign-key triggers can wait: a superuser
            # loads with them off, anyone else with them on (slower, same result).
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                cursor.execute("SET session_replication_role = replica")
        try:
            retailers = self._generate(options, started)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
                cursor.execute("SET synchronous_commit = DEFAULT")
        with connection.cursor() as cursor:
            # statistics, and the visibility map that lets deep pages use index-only scans
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
        elapsed = time.monotonic() - started
        total = sum(t.written for t in self.tables.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {options['orders']:,} orders for {len(retailers)} retailers: "
                f"{total:,} rows in {elapsed:.0f} s ({total / elapsed:,.0f} rows/s)."
            )
        )

    def _generate(self, options, started: float) -> list[Retailer]:
        retailers = self._retailers(options["retailers"])
        shares = retailer_shares(len(retailers))
        remaining = options["orders"]
        for index, retailer in enumerate(retailers):
            last = index == len(retailers) - 1
            count = min(remaining, remaining if last else round(options["orders"] * shares[index]))
            remaining -= count
            RetailerData(self, retailer, count).generate()
            self.stdout.write(
                f"  {retailer.ref}: {count:,} orders ({time.monotonic() - started:.0f} s)"
            )
            self.stdout.flush()
        for table in self.tables.values():
            table.reset_sequence()
        return retailers

    def _tables(self) -> dict[str, Table]:
        return {
            "customer": Table(
                Customer,
                [
                    "id",
                    "retailer_id",
                    "ref",
                    "first_name",
                    "last_name",
                    "email",
                    "mobile",
                    "segment",
                    "created_at",
                ],
            ),
            "address": Table(
                Address,
                [
                    "id",
                    "retailer_id",
                    "customer_id",
                    "name",
                    "line1",
                    "postcode",
                    "city",
                    "country",
                ],
            ),
            "order": Table(
                Order,
                [
                    "id",
                    "retailer_id",
                    "ref",
                    "channel",
                    "type",
                    "customer_id",
                    "status_id",
                    "currency",
                    "subtotal",
                    "discount",
                    "shipping",
                    "tax",
                    "total",
                    "item_count",
                    "payment_status",
                    "billing_address_id",
                    "shipping_address_id",
                    "delivery_method",
                    "carrier",
                    "promised_date",
                    "shipped_at",
                    "suspended_from_id",
                    "placed_at",
                    "updated_at",
                ],
            ),
            "line": Table(
                OrderLine,
                [
                    "id",
                    "retailer_id",
                    "order_id",
                    "position",
                    "sku",
                    "name",
                    "quantity",
                    "unit_price",
                    "discount",
                    "tax_rate",
                    "tax",
                    "total",
                    "cancelled",
                    "shipment_status",
                    "shipping_method",
                    "tracking_number",
                ],
            ),
            "payment": Table(
                Payment,
                [
                    "id",
                    "retailer_id",
                    "order_id",
                    "method",
                    "provider_reference",
                    "currency",
                    "authorised",
                    "captured",
                    "refunded",
                    "voided",
                    "created_at",
                ],
            ),
            "transaction": Table(
                PaymentTransaction,
                [
                    "id",
                    "retailer_id",
                    "payment_id",
                    "order_id",
                    "return_request_id",
                    "kind",
                    "amount",
                    "status",
                    "reference",
                    "idempotency_key",
                    "attempts",
                    "created_at",
                    "completed_at",
                ],
            ),
            "shipment": Table(
                Shipment,
                [
                    "id",
                    "retailer_id",
                    "order_id",
                    "carrier",
                    "service",
                    "tracking_number",
                    "status",
                    "shipped_at",
                    "delivered_at",
                    "created_at",
                ],
            ),
            "event": Table(
                ShipmentEvent,
                [
                    "id",
                    "retailer_id",
                    "shipment_id",
                    "status",
                    "description",
                    "location",
                    "occurred_at",
                ],
            ),
            "fulfilment": Table(
                Fulfilment,
                [
                    "id",
                    "retailer_id",
                    "ref",
                    "order_id",
                    "location_id",
                    "type",
                    "status",
                    "escalation_reason",
                    "escalated_at",
                    "created_at",
                    "updated_at",
                ],
            ),
            "fulfilment_item": Table(
                FulfilmentItem,
                ["id", "retailer_id", "fulfilment_id", "order_line_id", "requested", "filled"],
            ),
            "return": Table(
                Return,
                [
                    "id",
                    "retailer_id",
                    "return_ref",
                    "order_id",
                    "type",
                    "status",
                    "customer_id",
                    "customer_ref",
                    "customer_email",
                    "customer_first_name",
                    "customer_last_name",
                    "action_id",
                    "total_return_price",
                    "shipping_amount",
                    "currency",
                    "created_at",
                    "updated_at",
                ],
            ),
            "return_item": Table(
                ReturnItem,
                [
                    "id",
                    "retailer_id",
                    "return_request_id",
                    "order_line_id",
                    "sku_ref",
                    "sku_price",
                    "currency",
                    "quantity",
                    "amount",
                    "reason_text",
                    "reason_id",
                    "action_id",
                ],
            ),
            "return_fulfilment": Table(
                ReturnFulfilment,
                [
                    "id",
                    "retailer_id",
                    "return_request_id",
                    "ref",
                    "type",
                    "status",
                    "to_location",
                    "created_at",
                    "arrived_at",
                    "completed_at",
                ],
            ),
            "comment": Table(
                Comment, ["id", "retailer_id", "order_id", "author_id", "body", "created_at"]
            ),
            "task": Table(
                Task,
                [
                    "id",
                    "retailer_id",
                    "order_id",
                    "assignee_id",
                    "created_by_id",
                    "description",
                    "due_at",
                    "created_at",
                ],
            ),
            "ticket": Table(
                Ticket,
                ["id", "retailer_id", "order_id", "subject", "status", "created_at", "updated_at"],
            ),
            "ticket_message": Table(
                TicketMessage, ["id", "retailer_id", "ticket_id", "sender", "body", "created_at"]
            ),
            "activity": Table(
                Activity,
                [
                    "id",
                    "retailer_id",
                    "actor_id",
                    "action",
                    "target_type",
                    "target_id",
                    "root_type",
                    "root_id",
                    "data",
                    "created_at",
                ],
            ),
        }

    @transaction.atomic
    def _retailers(self, count: int) -> list[Retailer]:
        retailers = []
        for number in range(1, count + 1):
            retailer = Retailer.objects.create(
                ref=f"bench-{number:02d}",
                name=f"Bench Retailer {number:02d}",
                currency="EUR" if number % 4 else "GBP",
                time_zone="Europe/Amsterdam" if number % 4 else "Europe/London",
            )
            order_statuses_ensure_defaults(retailer=retailer)
            return_config_ensure_defaults(retailer=retailer)
            retailers.append(retailer)
        staff = {}
        for username, first, last in [
            ("bench.agent", "Bea", "Agent"),
            ("bench.manager", "Ben", "Manager"),
            ("bench.multi", "Mo", "Multi"),
        ]:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@oms.localhost",
                },
            )
            user.set_password(PASSWORD)
            user.save()
            staff[username] = user
        Membership.objects.create(user=staff["bench.agent"], retailer=retailers[0], role=Role.AGENT)
        Membership.objects.create(
            user=staff["bench.manager"], retailer=retailers[0], role=Role.MANAGER
        )
        Membership.objects.bulk_create(
            Membership(user=staff["bench.multi"], retailer=r, role=Role.AGENT) for r in retailers
        )
        self.staff = list(staff.values())
        return retailers


class RetailerData:
    """One retailer's customers, orders and everything hanging off them."""

    def __init__(self, command: Command, retailer: Retailer, orders: int):
        self.c = command
        self.t = command.tables
        self.rng = command.rng
        self.retailer = retailer
        self.rid = retailer.pk
        self.orders = orders
        self.prefix = f"B{retailer.ref[-2:]}"
        self.statuses = {
            s.system_state: s.pk
            for s in reversed(OrderStatus.objects.filter(retailer=retailer).order_by("position"))
        }
        # reasons whose action gives the money back (a complete return is refunded)
        self.reasons = list(
            ReturnReason.objects.filter(
                retailer=retailer,
                default_action__kind__in=[ReturnAction.Kind.REFUND, ReturnAction.Kind.CREDIT_NOTE],
            ).values_list("pk", "label", "default_action_id")
        )
        self.catalogue = [
            (
                f"{self.prefix}-{i:05d}",
                f"{self.rng.choice(ADJECTIVES)} {self.rng.choice(PRODUCTS)} {i}",
                self.rng.randrange(499, 29999),
            )
            for i in range(500)
        ]
        self.locations = self._network()
        self.staff_ids = [u.pk for u in command.staff]

    def _network(self) -> list[tuple[int, str]]:
        locations = [
            Location.objects.create(
                retailer=self.retailer,
                ref=f"LOC-{i}",
                name=f"{city} {'warehouse' if i < 2 else 'store'}",
                type=Location.Type.WAREHOUSE if i < 2 else Location.Type.STORE,
                city=city,
                country=country,
                zones=[country],
                daily_capacity=5000,
            )
            for i, (city, country) in enumerate(CITIES[:5])
        ]
        for name in CARRIERS[:3]:
            Carrier.objects.create(retailer=self.retailer, name=name, zones=["NL", "GB", "BE"])
        StockPosition.objects.bulk_create(
            StockPosition(
                retailer=self.retailer,
                location=location,
                sku=sku,
                on_hand=self.rng.randrange(0, 200),
                safety_threshold=2,
            )
            for location in locations
            for sku, _, _ in self.catalogue
        )
        return [(loc.pk, loc.name) for loc in locations]

    def generate(self) -> None:
        self._customers()
        for number in range(1, self.orders + 1):
            self._order(number)
            if number % BATCH_ORDERS == 0:
                self._flush()
        self._flush()
        self._reserve()

    def _reserve(self) -> None:
        """Reserve at each location what its sourced, unpicked fulfilments wait for, as
        sourcing does (stock is counted up where it held less)."""
        waiting = (
            FulfilmentItem.objects.filter(retailer_id=self.rid, fulfilment__status__in=RESERVING)
            .values_list("fulfilment__location_id", "order_line__sku")
            .annotate(units=Sum("requested"))
        )
        sql, params = waiting.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {StockPosition._meta.db_table} AS stock "  # noqa: S608
                "SET reserved = waiting.units, on_hand = GREATEST(stock.on_hand, waiting.units) "
                f"FROM ({sql}) AS waiting (location_id, sku, units) "
                "WHERE stock.retailer_id = %s AND stock.location_id = waiting.location_id "
                "AND stock.sku = waiting.sku",
                [*params, self.rid],
            )

    def _flush(self) -> None:
        with transaction.atomic():
            for table in self.t.values():
                table.flush()

    def _customers(self) -> None:
        rng, t = self.rng, self.t
        count = max(1, self.orders // 4)
        self.customers = []
        for n in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if rng.random() < 0.3:
                last = f"{rng.choice(LAST_NAMES)} {last}"
            email = f"{first}.{last.replace(' ', '')}{n}@example.com".lower()
            cid = t["customer"].next_id()
            segment = rng.choices(["consumer", "vip", "business", "staff"], [85, 8, 5, 2])[0]
            created = _ts(self.c.now - (HISTORY_DAYS + 30) * 86400 + rng.random() * 86400 * 30)
            t["customer"].add(
                cid,
                self.rid,
                f"C{n:07d}",
                first,
                last,
                email,
                f"+31 6 {rng.randrange(10**7, 10**8)}",
                segment,
                created,
            )
            city, country = rng.choice(CITIES)
            aid = t["address"].next_id()
            t["address"].add(
                aid,
                self.rid,
                cid,
                f"{first} {last}",
                f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                f"{rng.randrange(1000, 9999)} AB",
                city,
                country,
            )
            self.customers.append((cid, aid, first, last, email, f"C{n:07d}"))
        self._flush()

    def _order(self, number: int) -> None:
        rng, t, rid = self.rng, self.t, self.rid
        age_days = rng.random() * HISTORY_DAYS
        states = RECENT_STATES if age_days < 14 else OLD_STATES
        state = rng.choices(*states)[0]
        customer = self.customers[int(len(self.customers) * rng.random() ** 2)]
        cid, aid = customer[0], customer[1]
        oid = t["order"].next_id()
        ref = f"{self.prefix}-{number:07d}"
        collect = rng.random() < 0.15
        method = (
            "Store collection"
            if collect
            else rng.choice(["Standard delivery", "Next-day delivery"])
        )
        carrier = "" if collect else rng.choice(CARRIERS[:3])
        life = Life.of(state, rng)
        # an order is as old as its life needs at least: nothing happens after now
        placed = min(self.c.now - age_days * 86400, self.c.now - life.span - 60)
        tracking = f"3S{self.prefix}{oid:010d}" if life.shipped else ""
        lines = []
        subtotal = discount = tax = units = 0
        for position in range(rng.choices(*LINE_COUNTS)[0]):
            sku, name, price = self.catalogue[rng.randrange(len(self.catalogue))]
            quantity = rng.choices((1, 2, 3), (80, 15, 5))[0]
            line_discount = price * quantity // 10 if rng.random() < 0.1 else 0
            line_total = price * quantity - line_discount
            line_tax = line_total * 21 // 121
            lid = t["line"].next_id()
            t["line"].add(
                lid,
                rid,
                oid,
                position,
                sku,
                name,
                quantity,
                _money(price),
                _money(line_discount),
                "21.00",
                _money(line_tax),
                _money(line_total),
                quantity if state == SystemState.CANCELLED else 0,
                life.line_status,
                method,
                tracking,
            )
            lines.append((lid, sku, name, quantity, line_total))
            subtotal += price * quantity
            discount += line_discount
            tax += line_tax
            units += quantity
        shipping = 0 if collect else 495
        total = subtotal - discount + shipping
        returned = self._choose_return(lines, shipping) if life.returned else None
        payment_status = self._payment(oid, state, total, placed, returned)
        promised = datetime.fromtimestamp(placed + rng.randrange(1, 6) * 86400, UTC).date()
        t["order"].add(
            oid,
            rid,
            ref,
            rng.choices(*CHANNELS)[0],
            "CC" if collect else "HD",
            cid,
            self.statuses[state],
            self.retailer.currency,
            _money(subtotal),
            _money(discount),
            _money(shipping),
            _money(tax),
            _money(total),
            units,
            payment_status,
            aid,
            aid,
            method,
            carrier,
            promised.isoformat(),
            _ts(placed + SHIPPED) if life.shipped else None,  # as its shipment says
            self.statuses[SystemState.PROCESSING] if state == SystemState.SUSPENDED else None,
            _ts(placed),
            _ts(placed + life.updated),
        )
        self._activity(
            "orders.order.placed",
            "orders.order",
            oid,
            oid,
            placed,
            {"channel": "Web shop", "total": _money(total), "currency": self.retailer.currency},
        )
        if state != SystemState.NEW:
            self._activity(
                "orders.order.status_changed",
                "orders.order",
                oid,
                oid,
                placed + life.status_changed,
                {"before": "New", "after": state.label},
            )
        if life.shipped:
            self._shipment(oid, carrier or "PostNL", tracking, state, placed)
        self._fulfilment(oid, ref, life, collect, lines, placed)
        if returned is not None:
            self._return(oid, customer, returned, placed)
        room = self.c.now - placed
        if rng.random() < 0.15:
            for _ in range(rng.choice((1, 1, 2, 3))):
                at = placed + rng.random() * min(86400 * 3, room)
                body = rng.choice(COMMENTS)
                comment = t["comment"].next_id()
                author = rng.choice(self.staff_ids)
                t["comment"].add(comment, rid, oid, author, body, _ts(at))
                self._activity(
                    "orders.comment.added",
                    "orders.comment",
                    comment,
                    oid,
                    at,
                    {"body": body},
                    actor=author,
                )
        if rng.random() < 0.02:
            asked, answered = placed + min(86400, room / 2), placed + min(90000, room)
            tid = t["ticket"].next_id()
            status = "closed" if state in (SystemState.COMPLETED, SystemState.CANCELLED) else "open"
            t["ticket"].add(
                tid,
                rid,
                oid,
                "Where is my order?",
                status,
                _ts(asked),
                _ts(answered if status == "closed" else asked),
            )
            t["ticket_message"].add(
                t["ticket_message"].next_id(),
                rid,
                tid,
                "customer",
                "Hello, when will my order arrive?",
                _ts(asked),
            )
            if status == "closed":
                t["ticket_message"].add(
                    t["ticket_message"].next_id(),
                    rid,
                    tid,
                    "agent",
                    "It is on its way; here is the tracking link.",
                    _ts(answered),
                )
        if state in (SystemState.NEW, SystemState.PROCESSING) and rng.random() < 0.05:
            t["task"].add(
                t["task"].next_id(),
                rid,
                oid,
                rng.choice(self.staff_ids),
                self.staff_ids[0],
                "Call the customer back about the delivery date",
                _ts(placed + 7 * 86400),
                _ts(placed),
            )

    def _choose_return(self, lines, shipping: int) -> Returned:
        """What a customer sends back of a delivered order: one or two of its lines, each unit
        at the price paid (its share of the line total), and the shipping when it is all of
        them (as `BillingSettings.return_shipping` does by default)."""
        rng = self.rng
        chosen = rng.sample(lines, min(len(lines), rng.choice((1, 1, 2))))
        status = rng.choices(["COMPLETE", "PENDING_REFUND", "BOOKED", "CREATED"], [70, 10, 10, 10])[
            0
        ]
        given_back = shipping if len(chosen) == len(lines) else 0
        worth = sum(line_total for *_, line_total in chosen) + given_back
        reason = rng.choice(self.reasons)
        return Returned(self.t["return"].next_id(), chosen, status, reason, given_back, worth)

    def _payment(self, oid: int, state: str, total: int, placed: float, returned) -> str:
        """The order's payment and the operations that moved its money, each at its moment of
        the order's life; returns the order's payment status as the ledger has it."""
        rng, t, rid = self.rng, self.t, self.rid
        pid = t["payment"].next_id()
        captured = refunded = voided = 0
        moves = [("authorise", total, AUTHORISED, None)]
        if state in (SystemState.PROCESSING, SystemState.COMPLETED):
            captured = total
            moves.append(("capture", total, CAPTURED, None))
        elif state == SystemState.CANCELLED:
            if rng.random() < 0.5:
                captured = refunded = total
                moves += [("capture", total, CAPTURED, None), ("refund", total, CANCELLED, None)]
            else:
                voided = total
                moves.append(("void", total, CANCELLED, None))
        if returned is not None and returned.status == "COMPLETE":
            refunded += returned.worth
            moves.append(("refund", returned.worth, RETURN_ARRIVED, returned.id))
        t["payment"].add(
            pid,
            rid,
            oid,
            rng.choices(*METHODS)[0],
            f"psp_{self.prefix}_{oid}",
            self.retailer.currency,
            _money(total),
            _money(captured),
            _money(refunded),
            _money(voided),
            _ts(placed),
        )
        past = {
            "authorise": "authorised",
            "capture": "captured",
            "refund": "refunded",
            "void": "voided",
        }
        for kind, amount, after, return_id in moves:
            at = placed + after
            tx = t["transaction"].next_id()
            t["transaction"].add(
                tx,
                rid,
                pid,
                oid,
                return_id,
                kind,
                _money(amount),
                "succeeded",
                f"sim_{tx}",
                f"gen-{tx}",
                1,
                _ts(at),
                _ts(at),
            )
            self._activity(
                f"orders.payment.{past[kind]}",
                "billing.paymenttransaction",
                tx,
                oid,
                at,
                {"amount": _money(amount), "currency": self.retailer.currency, "method": "Card"},
            )
        return ledger.payment_status_for(
            captured=Decimal(captured),
            refunded=Decimal(refunded),
            open_authorisation=Decimal(total - voided - captured),
            total=Decimal(total),
        )

    def _shipment(self, oid: int, carrier: str, tracking: str, state: str, placed: float) -> None:
        t, rid = self.t, self.rid
        sid = t["shipment"].next_id()
        delivered = state == SystemState.COMPLETED
        t["shipment"].add(
            sid,
            rid,
            oid,
            carrier,
            "Standard",
            tracking,
            "delivered" if delivered else "in_transit",
            _ts(placed + SHIPPED),
            _ts(placed + DELIVERED) if delivered else None,
            _ts(placed + LABELLED),
        )
        events = [
            ("label_created", "Label created", placed + LABELLED),
            ("in_transit", "Parcel in transit", placed + SHIPPED),
        ]
        if delivered:
            events.append(("delivered", "Delivered to the customer", placed + DELIVERED))
        for status, description, at in events:
            t["event"].add(
                t["event"].next_id(), rid, sid, status, description, "Sorting centre", _ts(at)
            )

    def _fulfilment(self, oid, ref, life: Life, collect, lines, placed) -> None:
        """Where the order ships from, sourced when it was confirmed: no fulfilment before."""
        rng, t, rid = self.rng, self.t, self.rid
        status = life.fulfilment(collect)
        if status is None:
            return
        escalated = status == "ESCALATED"
        location = None if escalated else rng.choice(self.locations)[0]
        fid = t["fulfilment"].next_id()
        at = placed + CONFIRMED
        t["fulfilment"].add(
            fid,
            rid,
            f"{ref}-F1",
            oid,
            location,
            "CC" if collect else "HD",
            status,
            "No location has all the items in stock" if escalated else "",
            _ts(at) if escalated else None,
            _ts(at),
            _ts(placed + life.updated),
        )
        filled = status not in ("ESCALATED", "CANCELLED")
        for lid, _, _, quantity, _ in lines:
            t["fulfilment_item"].add(
                t["fulfilment_item"].next_id(), rid, fid, lid, quantity, quantity if filled else 0
            )
        if escalated:
            self._activity(
                "fulfilments.fulfilment.escalated",
                "fulfilments.fulfilment",
                fid,
                oid,
                at,
                {"ref": f"{ref}-F1", "reason": "No location has all the items in stock"},
            )

    def _return(self, oid, customer, returned: Returned, placed) -> None:
        t, rid = self.t, self.rid
        cid, _, first, last, email, cref = customer
        ret = returned.id
        reason, label, action = returned.reason
        arrived = returned.status in ("COMPLETE", "PENDING_REFUND")
        at = placed + RETURNED
        t["return"].add(
            ret,
            rid,
            f"RET-{self.prefix}-{ret}",
            oid,
            "CUSTOMER_RETURN",
            returned.status,
            cid,
            cref,
            email,
            first,
            last,
            action,
            _money(returned.worth),
            _money(returned.shipping),
            self.retailer.currency,
            _ts(at),
            _ts(placed + RETURN_ARRIVED if arrived else at),
        )
        for lid, sku, _, quantity, line_total in returned.lines:
            t["return_item"].add(
                t["return_item"].next_id(),
                rid,
                ret,
                lid,
                sku,
                _money(line_total // quantity),
                self.retailer.currency,
                quantity,
                _money(line_total),
                label,
                reason,
                action,
            )
        t["return_fulfilment"].add(
            t["return_fulfilment"].next_id(),
            rid,
            ret,
            f"RF-{ret}",
            "R_RTDC",
            {"COMPLETE": "COMPLETE", "PENDING_REFUND": "ARRIVED"}.get(returned.status, "CREATED"),
            self.locations[0][1],
            _ts(at),
            _ts(placed + RETURN_ARRIVED) if arrived else None,
            _ts(placed + RETURN_ARRIVED) if returned.status == "COMPLETE" else None,
        )
        self._activity(
            "returns.return.created",
            "returns.return",
            ret,
            ret,
            at,
            {
                "type_label": "Customer return",
                "return_ref": f"RET-{self.prefix}-{ret}",
                "summary": f"{len(returned.lines)} item(s), {_money(returned.worth)} "
                f"{self.retailer.currency}",
            },
        )

    def _activity(self, action, target_type, target_id, root_id, at, data, actor=None) -> None:
        root_type = "returns.return" if target_type == "returns.return" else "orders.order"
        self.t["activity"].add(
            self.t["activity"].next_id(),
            self.rid,
            actor,
            action,
            target_type,
            target_id,
            root_type,
            root_id,
            json.dumps(data),
            _ts(at),
        )
