"""Payments, payment operations and the simulated gateway's ledger now belong to billing (its
0003 takes them over); the tables are not touched here."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_bulk_jobs"),
        ("billing", "0003_payments_from_orders"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PaymentTransaction"),
                migrations.DeleteModel(name="Payment"),
                migrations.DeleteModel(name="SimulatedGatewayRecord"),
            ],
            database_operations=[],
        ),
    ]
