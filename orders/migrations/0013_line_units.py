"""A line counts its cancelled units; its shipped units are those its fulfilments handed over.

Lines cancelled before count every unit cancelled. Lines marked shipped, delivered or returned
that no fulfilment handed over (a retailer that fulfils elsewhere, or data from before) get a
fulfilment without a location that handed them over, so what shipped is counted one way.
"""

import uuid

from django.db import migrations, models

HANDED_OVER = ("SHIPPED", "DELIVERED", "COLLECTED")
SHIPPED_LINES = {"shipped": "SHIPPED", "delivered": "DELIVERED", "returned": "DELIVERED"}


def count_units(apps, schema_editor):
    OrderLine = apps.get_model("orders", "OrderLine")
    Fulfilment = apps.get_model("fulfilments", "Fulfilment")
    FulfilmentItem = apps.get_model("fulfilments", "FulfilmentItem")
    OrderLine.objects.filter(shipment_status="cancelled").update(cancelled=models.F("quantity"))
    shipped = (
        OrderLine.objects.filter(shipment_status__in=list(SHIPPED_LINES))
        .select_related("order")
        .order_by("order_id", "pk")
    )
    handed = {}
    for line_id, filled in (
        FulfilmentItem.objects.filter(
            order_line__shipment_status__in=list(SHIPPED_LINES),
            fulfilment__status__in=HANDED_OVER,
        )
        .values_list("order_line_id")
        .annotate(n=models.Sum("filled"))
    ):
        handed[line_id] = filled
    by_order = {}
    for line in shipped.iterator(chunk_size=2000):
        missing = line.quantity - handed.get(line.pk, 0)
        if missing > 0:
            by_order.setdefault(line.order_id, (line.order, []))[1].append((line, missing))
    for order, lines in by_order.values():
        status = max((SHIPPED_LINES[line.shipment_status] for line, _ in lines), key=len)
        at = order.updated_at.isoformat()
        fulfilment = Fulfilment.objects.create(
            retailer_id=order.retailer_id,
            order_id=order.pk,
            ref=f"{order.ref[:50]}-F{uuid.uuid4().hex[:6].upper()}",
            type=order.type,
            status=status,
            history={"CREATED": at, status: at},
            created_at=order.updated_at,
            updated_at=order.updated_at,
        )
        FulfilmentItem.objects.bulk_create(
            FulfilmentItem(
                retailer_id=order.retailer_id,
                fulfilment=fulfilment,
                order_line=line,
                requested=count,
                filled=count,
            )
            for line, count in lines
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0005_saved_views"),
        ("orders", "0012_payments_to_billing"),
        ("fulfilments", "0004_carrier_transit_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderline",
            name="cancelled",
            field=models.PositiveIntegerField(
                db_default=0, default=0, help_text="Units cancelled: they will not ship."
            ),
        ),
        migrations.RunPython(count_units, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="orderline",
            constraint=models.CheckConstraint(
                condition=models.Q(("cancelled__lte", models.F("quantity"))),
                name="line_cancelled_lte_quantity",
            ),
        ),
    ]
