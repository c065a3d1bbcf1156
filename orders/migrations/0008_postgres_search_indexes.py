"""Search indexes only Postgres has: prefix search on refs, and trigram search on names.

`istartswith` compares `UPPER(ref::text) LIKE 'B01-00%'`, which a b-tree serves only with the
pattern operator class whatever the database's collation; `icontains` on a name is served by a
trigram index (pg_trgm). Each index leads with, or is filtered by, the retailer. They live here
rather than in the models' Meta because SQLite, the embedded default, has neither feature.
"""

from django.db import migrations

INDEXES = [
    (
        "order_ref_prefix",
        "orders_order",
        "(retailer_id, UPPER(ref::text) text_pattern_ops)",
        "btree",
    ),
    (
        "fulfilment_ref_prefix",
        "fulfilments_fulfilment",
        "(retailer_id, UPPER(ref::text) text_pattern_ops)",
        "btree",
    ),
    (
        "return_ref_prefix",
        "returns_return",
        "(retailer_id, UPPER(return_ref::text) text_pattern_ops)",
        "btree",
    ),
    (
        "customer_ref_prefix",
        "customers_customer",
        "(retailer_id, UPPER(ref::text) text_pattern_ops)",
        "btree",
    ),
    (
        "customer_first_name_trgm",
        "customers_customer",
        "(UPPER(first_name::text) gin_trgm_ops)",
        "gin",
    ),
    (
        "customer_last_name_trgm",
        "customers_customer",
        "(UPPER(last_name::text) gin_trgm_ops)",
        "gin",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, columns, method in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {method} {columns}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, *_ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_list_and_search_indexes"),
        ("customers", "0002_search_and_list_indexes"),
        ("fulfilments", "0002_list_index"),
        ("returns", "0002_list_and_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
