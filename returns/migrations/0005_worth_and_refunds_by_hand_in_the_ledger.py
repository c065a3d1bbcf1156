"""A return item keeps what its units are worth, and a return the shipping it gives back; what
managers refunded by hand moves from the return into billing's ledger, as rows on the payments
that held the money."""

import uuid
from decimal import Decimal

from django.db import migrations, models

MONEY = {"decimal_places": 2, "default": Decimal("0.00"), "max_digits": 12}


def worth(apps, schema_editor):
    Return = apps.get_model("returns", "Return")
    ReturnItem = apps.get_model("returns", "ReturnItem")
    for item in ReturnItem.objects.filter(amount=0).iterator(chunk_size=2000):
        unit = (item.sku_price or Decimal(0)) + (item.sku_tax_price or Decimal(0))
        ReturnItem.objects.filter(pk=item.pk).update(amount=unit * item.quantity)
    for ret in Return.objects.iterator(chunk_size=2000):
        items = ReturnItem.objects.filter(return_request=ret).aggregate(t=models.Sum("amount"))
        shipping = ret.total_return_price - (items["t"] or Decimal(0))
        if shipping > 0:
            Return.objects.filter(pk=ret.pk).update(shipping_amount=shipping)


def into_the_ledger(apps, schema_editor):
    Return = apps.get_model("returns", "Return")
    Payment = apps.get_model("billing", "Payment")
    PaymentTransaction = apps.get_model("billing", "PaymentTransaction")
    for ret in Return.objects.filter(refunded_by_hand_amount__gt=0, order__isnull=False):
        left = ret.refunded_by_hand_amount
        for payment in Payment.objects.filter(order_id=ret.order_id).order_by("pk"):
            room = payment.captured - payment.refunded - payment.refunded_by_hand
            take = min(left, max(room, Decimal(0)))
            if take <= 0:
                continue
            PaymentTransaction.objects.create(
                retailer_id=payment.retailer_id,
                payment=payment,
                order_id=payment.order_id,
                return_request=ret,
                kind="manual_refund",
                amount=take,
                status="succeeded",
                idempotency_key=f"manual_refund-{uuid.uuid4().hex}",
                created_at=ret.updated_at,
                completed_at=ret.updated_at,
            )
            Payment.objects.filter(pk=payment.pk).update(
                refunded_by_hand=models.F("refunded_by_hand") + take
            )
            left -= take
            if not left:
                break


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0004_refunded_by_hand_amount"),
        ("billing", "0005_refunds_by_hand_in_the_ledger"),
    ]

    operations = [
        migrations.AddField(
            model_name="return",
            name="shipping_amount",
            field=models.DecimalField(
                **MONEY, help_text="The order's shipping this return gives back."
            ),
        ),
        migrations.AddField(
            model_name="returnitem",
            name="amount",
            field=models.DecimalField(
                **MONEY,
                help_text="What its units are worth: their share of the order line at the price "
                "paid.",
            ),
        ),
        migrations.AlterField(
            model_name="return",
            name="total_return_price",
            field=models.DecimalField(
                **MONEY,
                help_text="What the return is worth: its items at the price paid, and the "
                "shipping it gives back.",
            ),
        ),
        migrations.RunPython(worth, migrations.RunPython.noop),
        migrations.RunPython(into_the_ledger, migrations.RunPython.noop),
        migrations.RemoveField(model_name="return", name="refunded_by_hand_amount"),
        migrations.AlterField(
            model_name="return",
            name="refunded_by_hand",
            field=models.BooleanField(
                default=False, help_text="A manager released its refund by hand."
            ),
        ),
    ]
