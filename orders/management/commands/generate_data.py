"""Fill Postgres with a large, realistic data set for the benchmarks in `bench/`.

    python manage.py generate_data --orders 1000000 --retailers 20

Retailers `bench-01` ... `bench-NN` are created with skewed sizes (the first holds about a fifth
of the orders), each with its statuses, return configuration, locations, carriers and stock.
Orders carry 1 to 10 lines, a payment with its transactions, shipments with carrier events,
fulfilments with items (some escalated), returns for a share of the completed ones, comments,
tickets, tasks and their activity; customers are picked with a skew, so some have long histories.

Rows are written with COPY in batches, with ids allocated here, so a million orders take minutes,
not hours. The data is deterministic for a given --seed. Staff logins: `bench.agent` and
`bench.manager` (both of bench-01) and `bench.multi` (agent of every bench retailer), password
`bench-password`.
"""

# ruff: noqa: SIM905

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction

from billing.models import Payment, PaymentTransaction
from customers.models import Address, Customer
from fulfilments.models import (
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
from returns.models import Return, ReturnFulfilment, ReturnItem, ReturnReason
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
                    "total_return_price",
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
                    "reason_text",
                    "reason_id",
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
        self.reasons = list(
            ReturnReason.objects.filter(retailer=retailer).values_list("pk", "label")
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
        placed = self.c.now - age_days * 86400
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
        shipped = state == SystemState.COMPLETED or (
            state == SystemState.PROCESSING and rng.random() < 0.5
        )
        line_status = {
            SystemState.COMPLETED: "delivered",
            SystemState.CANCELLED: "cancelled",
            SystemState.PROCESSING: "shipped" if shipped else "picked",
        }.get(state, "pending")
        tracking = f"3S{self.prefix}{oid:010d}" if shipped else ""
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
                line_status,
                method,
                tracking,
            )
            lines.append((lid, sku, name, quantity, price))
            subtotal += price * quantity
            discount += line_discount
            tax += line_tax
            units += quantity
        shipping = 0 if collect else 495
        total = subtotal - discount + shipping
        payment_status = self._payment(oid, ref, state, total, placed)
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
            _ts(placed),
            _ts(placed + 3600),
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
                placed + 3600,
                {"before": "New", "after": state.label},
            )
        if shipped:
            self._shipment(oid, carrier or "PostNL", tracking, state, placed)
        self._fulfilment(oid, ref, state, shipped, collect, lines, placed)
        if state == SystemState.COMPLETED and rng.random() < 0.06:
            self._return(oid, customer, lines, placed)
        if rng.random() < 0.15:
            for _ in range(rng.choice((1, 1, 2, 3))):
                at = placed + rng.random() * 86400 * 3
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
            tid = t["ticket"].next_id()
            status = "closed" if state in (SystemState.COMPLETED, SystemState.CANCELLED) else "open"
            t["ticket"].add(
                tid,
                rid,
                oid,
                "Where is my order?",
                status,
                _ts(placed + 86400),
                _ts(placed + 90000),
            )
            t["ticket_message"].add(
                t["ticket_message"].next_id(),
                rid,
                tid,
                "customer",
                "Hello, when will my order arrive?",
                _ts(placed + 86400),
            )
            if status == "closed":
                t["ticket_message"].add(
                    t["ticket_message"].next_id(),
                    rid,
                    tid,
                    "agent",
                    "It is on its way; here is the tracking link.",
                    _ts(placed + 90000),
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

    def _payment(self, oid: int, ref: str, state: str, total: int, placed: float) -> str:
        rng, t, rid = self.rng, self.t, self.rid
        pid = t["payment"].next_id()
        captured = refunded = voided = 0
        status = "authorised"
        moves = [("authorise", total)]
        if state in (SystemState.PROCESSING, SystemState.COMPLETED):
            captured, status = total, "paid"
            moves.append(("capture", total))
        elif state == SystemState.CANCELLED:
            if rng.random() < 0.5:
                captured = refunded = total
                status = "refunded"
                moves += [("capture", total), ("refund", total)]
            else:
                voided, status = total, "not_paid"
                moves.append(("void", total))
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
        at = placed + 30
        for kind, amount in moves:
            tx = t["transaction"].next_id()
            t["transaction"].add(
                tx,
                rid,
                pid,
                oid,
                kind,
                _money(amount),
                "succeeded",
                f"sim_{tx}",
                f"gen-{tx}",
                1,
                _ts(at),
                _ts(at),
            )
            past = {
                "authorise": "authorised",
                "capture": "captured",
                "refund": "refunded",
                "void": "voided",
            }
            self._activity(
                f"orders.payment.{past[kind]}",
                "billing.paymenttransaction",
                tx,
                oid,
                at,
                {"amount": _money(amount), "currency": self.retailer.currency, "method": "Card"},
            )
            at += rng.randrange(3600, 86400)
        return status

    def _shipment(self, oid: int, carrier: str, tracking: str, state: str, placed: float) -> None:
        t, rid = self.t, self.rid
        sid = t["shipment"].next_id()
        delivered = state == SystemState.COMPLETED
        shipped_at = placed + 86400
        t["shipment"].add(
            sid,
            rid,
            oid,
            carrier,
            "Standard",
            tracking,
            "delivered" if delivered else "in_transit",
            _ts(shipped_at),
            _ts(shipped_at + 86400) if delivered else None,
            _ts(placed + 80000),
        )
        events = [
            ("label_created", "Label created", placed + 80000),
            ("in_transit", "Parcel in transit", shipped_at),
        ]
        if delivered:
            events.append(("delivered", "Delivered to the customer", shipped_at + 86400))
        for status, description, at in events:
            t["event"].add(
                t["event"].next_id(), rid, sid, status, description, "Sorting centre", _ts(at)
            )

    def _fulfilment(self, oid, ref, state, shipped, collect, lines, placed) -> None:
        rng, t, rid = self.rng, self.t, self.rid
        escalated = state in (SystemState.NEW, SystemState.PROCESSING) and rng.random() < 0.05
        if state in (SystemState.NEW, SystemState.FRAUD) and not escalated:
            return
        if escalated:
            status = "ESCALATED"
        elif state == SystemState.COMPLETED:
            status = "COLLECTED" if collect else "DELIVERED"
        elif state == SystemState.CANCELLED:
            status = "CANCELLED"
        elif shipped:
            status = "SHIPPED"
        else:
            status = rng.choice(["ASSIGNED", "PICKED", "PACKED"])
        location = None if escalated else rng.choice(self.locations)[0]
        fid = t["fulfilment"].next_id()
        at = placed + 600
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
            _ts(at),
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

    def _return(self, oid, customer, lines, placed) -> None:
        rng, t, rid = self.rng, self.t, self.rid
        cid, _, first, last, email, cref = customer
        ret = t["return"].next_id()
        chosen = rng.sample(lines, min(len(lines), rng.choice((1, 1, 2))))
        total = sum(price * quantity for _, _, _, quantity, price in chosen)
        at = placed + 10 * 86400
        status = rng.choices(["COMPLETE", "PENDING_REFUND", "BOOKED", "CREATED"], [70, 10, 10, 10])[
            0
        ]
        t["return"].add(
            ret,
            rid,
            f"RET-{self.prefix}-{ret}",
            oid,
            "CUSTOMER_RETURN",
            status,
            cid,
            cref,
            email,
            first,
            last,
            _money(total),
            self.retailer.currency,
            _ts(at),
            _ts(at + 86400),
        )
        for lid, sku, _, quantity, price in chosen:
            reason, label = rng.choice(self.reasons)
            t["return_item"].add(
                t["return_item"].next_id(),
                rid,
                ret,
                lid,
                sku,
                _money(price),
                self.retailer.currency,
                quantity,
                label,
                reason,
            )
        rf_status = "COMPLETE" if status == "COMPLETE" else "CREATED"
        t["return_fulfilment"].add(
            t["return_fulfilment"].next_id(),
            rid,
            ret,
            f"RF-{ret}",
            "R_RTDC",
            rf_status,
            self.locations[0][1],
            _ts(at),
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
                "summary": f"{len(chosen)} item(s), {_money(total)} {self.retailer.currency}",
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
