"""The payment tables take billing's names; the audit trail and content types follow the models
to their new app. Row-level security policies stay on the renamed tables."""

from django.db import migrations

MOVED = ("payment", "paymenttransaction", "simulatedgatewayrecord")


def follow(apps, schema_editor, source="orders", target="billing"):
    Activity = apps.get_model("oms", "Activity")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        Activity.objects.filter(target_type=f"{source}.{model}").update(
            target_type=f"{target}.{model}"
        )
        Activity.objects.filter(root_type=f"{source}.{model}").update(root_type=f"{target}.{model}")
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def back(apps, schema_editor):
    follow(apps, schema_editor, source="billing", target="orders")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0003_payments_from_orders"),
        ("orders", "0012_payments_to_billing"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="payment", table=None),
        migrations.AlterModelTable(name="paymenttransaction", table=None),
        migrations.AlterModelTable(name="simulatedgatewayrecord", table=None),
        migrations.RunPython(follow, back),
    ]
