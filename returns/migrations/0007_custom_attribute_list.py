from django.db import migrations, models


def to_list(apps, schema_editor):
    """{name: value} becomes [{name, type, value}], as the Returns API exchanges them."""
    Return = apps.get_model("returns", "Return")
    rows = Return.objects.values_list("pk", "custom_attributes").iterator(chunk_size=2000)
    for pk, kept in rows:
        if isinstance(kept, dict):
            listed = [
                {"name": str(name), "type": "STRING", "value": "" if v is None else str(v)}
                for name, v in kept.items()
            ]
            Return.objects.filter(pk=pk).update(custom_attributes=listed)


def to_mapping(apps, schema_editor):
    Return = apps.get_model("returns", "Return")
    rows = Return.objects.values_list("pk", "custom_attributes").iterator(chunk_size=2000)
    for pk, kept in rows:
        if isinstance(kept, list):
            mapping = {e.get("name"): e.get("value") for e in kept if isinstance(e, dict)}
            Return.objects.filter(pk=pk).update(custom_attributes=mapping)


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0006_return_numbers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="return",
            name="custom_attributes",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="[{name, type, value}], as the Returns API exchanges them "
                "(`returns.services.return_attribute_set`)",
            ),
        ),
        migrations.RunPython(to_list, to_mapping, elidable=True),
    ]
