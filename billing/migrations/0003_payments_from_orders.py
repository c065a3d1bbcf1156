"""Payments, payment operations and the simulated gateway's ledger move from orders to billing,
which holds all money. The tables stay where they are here; 0004 renames them."""

from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MONEY = {"decimal_places": 2, "default": Decimal("0.00"), "max_digits": 12}


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_billingaccount_debitmemo_and_more"),
        ("oms", "0005_saved_views"),
        ("orders", "0011_bulk_jobs"),
        ("returns", "0004_refunded_by_hand_amount"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Payment",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "method",
                            models.CharField(
                                choices=[
                                    ("card", "Card"),
                                    ("ideal", "iDEAL"),
                                    ("paypal", "PayPal"),
                                    ("klarna", "Klarna (pay later)"),
                                    ("gift_card", "Gift card"),
                                    ("bank_transfer", "Bank transfer"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("provider", models.CharField(default="simulated", max_length=50)),
                        ("provider_reference", models.CharField(blank=True, max_length=100)),
                        ("currency", models.CharField(max_length=3)),
                        ("authorised", models.DecimalField(**MONEY)),
                        ("captured", models.DecimalField(**MONEY)),
                        ("refunded", models.DecimalField(**MONEY)),
                        (
                            "voided",
                            models.DecimalField(
                                **MONEY,
                                help_text="Authorised but released: it can no longer be captured.",
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="payments",
                                to="orders.order",
                            ),
                        ),
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
                        "db_table": "orders_payment",
                        "ordering": ["order_id", "created_at", "pk"],
                        "abstract": False,
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("captured__lte", models.F("authorised") - models.F("voided"))
                                ),
                                name="payment_captured_lte_authorised",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("refunded__lte", models.F("captured"))),
                                name="payment_refunded_lte_captured",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("authorised__gte", 0),
                                    ("captured__gte", 0),
                                    ("refunded__gte", 0),
                                    ("voided__gte", 0),
                                ),
                                name="payment_amounts_not_negative",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="PaymentTransaction",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("authorise", "Authorise"),
                                    ("capture", "Capture"),
                                    ("refund", "Refund"),
                                    ("void", "Void"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("amount", models.DecimalField(**MONEY)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        (
                            "reference",
                            models.CharField(
                                blank=True, help_text="The gateway's reference", max_length=100
                            ),
                        ),
                        ("idempotency_key", models.CharField(max_length=100)),
                        ("message", models.TextField(blank=True)),
                        (
                            "error_code",
                            models.CharField(
                                blank=True,
                                help_text="declined, or unavailable when it may be retried",
                                max_length=20,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="transactions",
                                to="orders.order",
                            ),
                        ),
                        (
                            "payment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="transactions",
                                to="billing.payment",
                            ),
                        ),
                        (
                            "retailer",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="oms.retailer",
                            ),
                        ),
                        (
                            "return_request",
                            models.ForeignKey(
                                blank=True,
                                help_text="The return this refund pays out.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="refunds",
                                to="returns.return",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "orders_paymenttransaction",
                        "ordering": ["order_id", "created_at", "pk"],
                        "abstract": False,
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status", "failed")),
                                fields=["retailer", "order"],
                                name="transaction_failed",
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("retailer", "idempotency_key"),
                                name="transaction_unique_idempotency_key",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("amount__gte", 0)),
                                name="transaction_amount_gte_0",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SimulatedGatewayRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("idempotency_key", models.CharField(max_length=100, unique=True)),
                        ("payment_reference", models.CharField(max_length=100)),
                        ("kind", models.CharField(max_length=16)),
                        ("amount", models.DecimalField(**MONEY)),
                        ("currency", models.CharField(max_length=3)),
                        ("reference", models.CharField(max_length=100, unique=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "orders_simulatedgatewayrecord",
                        "indexes": [
                            models.Index(fields=["payment_reference"], name="simgw_payment")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
