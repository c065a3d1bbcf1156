"""Order.shipped_at: when the order's first parcel left, copied from its shipments; the home
page's open-work index carries it, so "not shipped yet" is read from the index alone, and the
latest orders shipped (its time to ship) come from an index of their own."""

from django.db import migrations, models

# the first shipped parcel of each order; portable (Postgres and SQLite), set-based
BACKFILL = """
UPDATE orders_order SET shipped_at = (
    SELECT min(s.shipped_at) FROM orders_shipment s
    WHERE s.order_id = orders_order.id AND s.shipped_at IS NOT NULL
)
WHERE EXISTS (
    SELECT 1 FROM orders_shipment s
    WHERE s.order_id = orders_order.id AND s.shipped_at IS NOT NULL
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_customer_language"),
        ("oms", "0007_seller_details"),
        ("orders", "0016_home_open_work"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_open_work"),
        migrations.AddField(
            model_name="order",
            name="shipped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=[
                    "retailer",
                    "status",
                    "payment_status",
                    "promised_date",
                    "carrier",
                    "id",
                    "shipped_at",
                ],
                name="order_open_work",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("shipped_at__isnull", False)),
                fields=["retailer", "-shipped_at", "placed_at"],
                name="order_recently_shipped",
            ),
        ),
    ]
