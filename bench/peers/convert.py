"""Fills the oscar peer's database with the bench database's orders, for bench/peers/compare.py.

    python bench/peers/convert.py                      # every order (1,000,000 in `make bench`)
    python bench/peers/convert.py --retailer bench-01  # only the largest retailer's (200,000)

It reads `oms_bench` (BENCH_DATABASE_URL) in a read-only transaction and replaces what oscar's
tables hold in `oms_oscar` (OSCAR_DATABASE_URL, migrated by bench/peers/setup_oscar.sh). Each
table is one COPY streamed from the source to the target, the mapping done by the source's
SELECT, so a million orders take minutes, not hours. Ids are kept (an order, its lines, its
customer and address have the same id in both databases), so the pages compared show the same
rows.

How the back office's records become oscar's:

- a retailer becomes a partner; each of its SKUs a product (one product class, "Item") with one
  stock record at that partner;
- a customer becomes a user (username `c<id>`, its email and names, no usable password);
- an address becomes an order billing address and an order shipping address with the same id;
- an order keeps its ref as oscar's order number, its currency, totals, shipping, delivery
  method and date; its status becomes the name of its system state ("New", "Processing",
  "Completed", "Cancelled", "Fraud", "Suspended"), the pipeline of bench/peers/oscar/settings.py;
- an order line keeps its SKU (as partner SKU and UPC), name, quantity, prices and tax; its
  shipment status becomes oscar's line status.

A staff user `bench.staff` is added last: oscar's dashboard shows a staff user every order of
the shop, there being no tenants in oscar.

Foreign keys are not checked while copying (session_replication_role = replica): the rows come
from a database whose own keys already hold, and checking three million line rows one by one at
commit would take longer than copying them.
"""

from __future__ import annotations

import argparse
import os
import time

import psycopg

SOURCE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms_bench")
TARGET = os.environ.get("OSCAR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms_oscar")
STAFF = "bench.staff"
BLOCK = 4 << 20  # bytes sent to the target per COPY write

# what oscar's address_country needs of each country the addresses use
COUNTRIES = {
    "GB": ("GBR", "826", "United Kingdom"),
    "DE": ("DEU", "276", "Germany"),
    "NL": ("NLD", "528", "Netherlands"),
    "BE": ("BEL", "056", "Belgium"),
    "FR": ("FRA", "250", "France"),
    "IE": ("IRL", "372", "Ireland"),
    "US": ("USA", "840", "United States"),
}

# the tables filled, children first (the order they are emptied in, reversed to fill them)
TABLES = (
    "order_line",
    "order_order",
    "order_billingaddress",
    "order_shippingaddress",
    "partner_stockrecord",
    "catalogue_product",
    "catalogue_productclass",
    "partner_partner",
    "auth_user",
    "address_country",
)

# every (retailer, sku) the lines name, numbered: the product and stock record ids
PRODUCTS = (
    "WITH products AS (SELECT retailer_id, sku, min(name) AS name,"
    " row_number() OVER (ORDER BY retailer_id, sku) AS id"
    " FROM orders_orderline WHERE retailer_id = ANY(%(scope)s) GROUP BY retailer_id, sku)"
)

# (target table, its columns, the source SELECT giving them in that order)
COPIES = (
    (
        "partner_partner",
        "id, code, name",
        "SELECT id, ref, name FROM oms_retailer WHERE id = ANY(%(scope)s)",
    ),
    (
        "catalogue_product",
        "id, structure, upc, title, slug, description, rating, date_created, date_updated,"
        " is_discountable, parent_id, product_class_id, is_public, meta_description,"
        " meta_title, priority, code",
        f"{PRODUCTS} SELECT id, 'standalone', NULL, name, lower(sku), '', NULL, now(), now(),"
        " true, NULL, 1, true, NULL, NULL, 0, NULL FROM products",
    ),
    (
        "partner_stockrecord",
        "id, partner_sku, price_currency, price, num_in_stock, num_allocated,"
        " low_stock_threshold, date_created, date_updated, partner_id, product_id",
        f"{PRODUCTS} SELECT id, sku, 'EUR', NULL, 100, 0, NULL, now(), now(), retailer_id, id"
        " FROM products",
    ),
    (
        "auth_user",
        "id, password, last_login, is_superuser, username, first_name, last_name, email,"
        " is_staff, is_active, date_joined",
        "SELECT id, '!', NULL, false, 'c' || id, first_name, last_name, email, false, true,"
        " created_at FROM customers_customer WHERE retailer_id = ANY(%(scope)s)",
    ),
    (
        "order_billingaddress",
        "id, title, first_name, last_name, line1, line2, line3, line4, state, postcode,"
        " search_text, country_id, code",
        "SELECT id, '', split_part(name, ' ', 1), substr(name, length(split_part(name, ' ', 1))"
        " + 2), line1, line2, '', city, region, postcode,"
        " concat_ws(' ', name, line1, line2, city, region, postcode, country), country, NULL"
        " FROM customers_address WHERE retailer_id = ANY(%(scope)s)",
    ),
    (
        "order_shippingaddress",
        "id, title, first_name, last_name, line1, line2, line3, line4, state, postcode,"
        " search_text, phone_number, notes, country_id, code",
        "SELECT id, '', split_part(name, ' ', 1), substr(name, length(split_part(name, ' ', 1))"
        " + 2), line1, line2, '', city, region, postcode,"
        " concat_ws(' ', name, line1, line2, city, region, postcode, country), phone, '',"
        " country, NULL FROM customers_address WHERE retailer_id = ANY(%(scope)s)",
    ),
    (
        "order_order",
        "id, number, currency, total_incl_tax, total_excl_tax, shipping_incl_tax,"
        " shipping_excl_tax, shipping_method, shipping_code, status, guest_email, date_placed,"
        " basket_id, billing_address_id, shipping_address_id, site_id, user_id,"
        " shipping_tax_code, analytics_tracked",
        "SELECT o.id, o.ref, o.currency, o.total, o.total - o.tax, o.shipping, o.shipping,"
        " o.delivery_method, lower(o.type), initcap(s.system_state), '', o.placed_at, NULL,"
        " o.billing_address_id, o.shipping_address_id, 1, o.customer_id, NULL, true"
        " FROM orders_order o JOIN orders_orderstatus s ON s.id = o.status_id"
        " WHERE o.retailer_id = ANY(%(scope)s)",
    ),
    (
        "order_line",
        "id, partner_name, partner_sku, partner_line_reference, partner_line_notes, title, upc,"
        " quantity, line_price_incl_tax, line_price_excl_tax,"
        " line_price_before_discounts_incl_tax, line_price_before_discounts_excl_tax,"
        " unit_price_incl_tax, unit_price_excl_tax, status, order_id, partner_id, product_id,"
        " stockrecord_id, tax_code, allocation_cancelled, num_allocated",
        f"{PRODUCTS} SELECT l.id, r.name, l.sku, '', '', l.name, l.sku, l.quantity, l.total,"
        " l.total - l.tax, l.total + l.discount, l.total + l.discount - l.tax, l.unit_price,"
        " round(l.unit_price * 100 / (100 + l.tax_rate), 2), initcap(l.shipment_status),"
        " l.order_id, l.retailer_id, p.id, p.id, NULL, l.cancelled > 0, l.quantity - l.cancelled"
        " FROM orders_orderline l JOIN oms_retailer r ON r.id = l.retailer_id"
        " JOIN products p ON p.retailer_id = l.retailer_id AND p.sku = l.sku"
        " WHERE l.retailer_id = ANY(%(scope)s)",
    ),
)


def scope_of(source: psycopg.Connection, retailer: str | None) -> list[int]:
    """The ids of the retailers whose orders are converted: one, or all of them."""
    if retailer:
        rows = source.execute("SELECT id FROM oms_retailer WHERE ref = %s", [retailer]).fetchall()
        if not rows:
            raise SystemExit(f"No retailer {retailer!r} in the bench database.")
    else:
        rows = source.execute("SELECT id FROM oms_retailer ORDER BY id").fetchall()
    return [row[0] for row in rows]


def copy(source: psycopg.Connection, target: psycopg.Connection, step: tuple, scope) -> int:
    """Stream one SELECT of the source into one table of the target; the rows copied."""
    table, columns, select = step
    query = psycopg.ClientCursor(source).mogrify(select, {"scope": scope})
    with (
        source.cursor().copy(f"COPY ({query}) TO STDOUT") as out,
        target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as into,
    ):
        batch = bytearray()
        for row in out:  # COPY TO gives a row at a time: send them on in large blocks
            batch += row
            if len(batch) >= BLOCK:
                into.write(batch)
                batch = bytearray()
        into.write(batch)
    return target.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def country(code: str) -> tuple[str, str, str, str]:
    """Oscar's columns for a country: alpha-3, numeric code, printable name, name."""
    alpha3, numeric, name = COUNTRIES.get(code, ("", "", code))
    return alpha3, numeric, name, name


def fill_fixed(source: psycopg.Connection, target: psycopg.Connection, scope) -> None:
    """The rows oscar needs that the bench data has no table for: countries, a product class."""
    used = source.execute(
        "SELECT DISTINCT country FROM customers_address WHERE retailer_id = ANY(%s)", [scope]
    ).fetchall()
    target.cursor().executemany(
        "INSERT INTO address_country (iso_3166_1_a2, iso_3166_1_a3, iso_3166_1_numeric,"
        " printable_name, name, display_order, is_shipping_country)"
        " VALUES (%s, %s, %s, %s, %s, 0, true)",
        [(code, *country(code)) for (code,) in used],
    )
    target.execute(
        "INSERT INTO catalogue_productclass (id, name, slug, requires_shipping, track_stock)"
        " VALUES (1, 'Item', 'item', true, true)"
    )


def add_staff(target: psycopg.Connection) -> None:
    """The dashboard's user: staff, so oscar shows it every order."""
    target.execute(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name,"
        " email, is_staff, is_active, date_joined)"
        " SELECT coalesce(max(id), 0) + 1, '!', true, %s, 'Bench', 'Staff',"
        " 'bench.staff@example.com', true, true, now() FROM auth_user",
        [STAFF],
    )


def reset_sequences(target: psycopg.Connection) -> None:
    """Rows added later by oscar itself must not collide with the copied ids."""
    for table in TABLES:
        if table == "address_country":
            continue
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retailer", help="convert only this retailer's orders (its ref)")
    args = parser.parse_args()
    started = time.monotonic()
    with (
        psycopg.connect(SOURCE) as source,
        psycopg.connect(TARGET) as target,
    ):
        source.read_only = True
        scope = scope_of(source, args.retailer)
        target.execute("SET session_replication_role = replica")
        target.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        fill_fixed(source, target, scope)
        for step in COPIES:
            began = time.monotonic()
            rows = copy(source, target, step, scope)
            print(f"  {step[0]}: {rows:,} rows ({time.monotonic() - began:.0f} s)", flush=True)
        add_staff(target)
        reset_sequences(target)
        target.commit()
    with psycopg.connect(TARGET, autocommit=True) as target:
        target.execute("ANALYZE")
    print(f"oms_oscar filled in {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
