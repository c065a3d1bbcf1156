"""What a manager gave back by hand is kept on the return, not read back from its activity."""

from decimal import Decimal

from django.db import migrations, models


def amounts_from_activity(apps, schema_editor):
    Return = apps.get_model("returns", "Return")
    Activity = apps.get_model("oms", "Activity")
    released = Activity.objects.filter(
        action="returns.return.refund_released", target_type="returns.return"
    ).values_list("target_id", "data")
    by_return: dict[str, Decimal] = {}
    for target_id, data in released.iterator():
        by_return[target_id] = by_return.get(target_id, Decimal(0)) + Decimal(
            str((data or {}).get("amount") or 0)
        )
    for ret in Return.objects.filter(refunded_by_hand=True).only("pk"):
        amount = by_return.get(str(ret.pk), Decimal(0))
        if amount:
            Return.objects.filter(pk=ret.pk).update(refunded_by_hand_amount=amount)


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0005_saved_views"),
        ("returns", "0003_search_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="return",
            name="refunded_by_hand_amount",
            field=models.DecimalField(decimal_places=2, default=Decimal("0.00"), max_digits=12),
        ),
        migrations.RunPython(amounts_from_activity, migrations.RunPython.noop),
    ]
