from django.db import migrations

DEFAULTS = [
    ("new", "New", "blue", "NEW"),
    ("processing", "Processing", "orange", "PROCESSING"),
    ("completed", "Completed", "green", "COMPLETED"),
    ("cancelled", "Cancelled", "grey", "CANCELLED"),
    ("fraud", "Fraud", "red", "FRAUD"),
    ("suspended", "Suspended", "purple", "SUSPENDED"),
]


def add_default_statuses(apps, schema_editor):
    """Give every retailer that exists already the six default order statuses."""
    Retailer = apps.get_model("oms", "Retailer")
    OrderStatus = apps.get_model("orders", "OrderStatus")
    for retailer in Retailer.objects.all():
        existing = set(OrderStatus.objects.filter(retailer=retailer).values_list("code", flat=True))
        OrderStatus.objects.bulk_create(
            OrderStatus(
                retailer=retailer,
                code=code,
                label=label,
                colour=colour,
                system_state=state,
                position=position,
            )
            for position, (code, label, colour, state) in enumerate(DEFAULTS)
            if code not in existing
        )


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial"), ("oms", "0001_initial")]

    operations = [migrations.RunPython(add_default_statuses, migrations.RunPython.noop)]
