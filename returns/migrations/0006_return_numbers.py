"""Returns made in the app are numbered per retailer (`ACM-R00001`); existing returns keep
their refs."""

import django.db.models.deletion
from django.db import migrations, models

from oms.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0006_retailer_date_window"),
        ("returns", "0005_worth_and_refunds_by_hand_in_the_ledger"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReturnSequence",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("next_number", models.PositiveIntegerField(default=1)),
                (
                    "retailer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="oms.retailer",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("retailer",), name="returnsequence_one_per_retailer"
                    )
                ],
            },
        ),
        EnableRowLevelSecurity(["returns_returnsequence"]),
    ]
