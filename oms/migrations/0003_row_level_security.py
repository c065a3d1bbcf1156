"""Row-level security on every tenant table (see oms/rls.py). A table added later gets the same
with `EnableRowLevelSecurity([...])` in its own migration; tests/oms/test_row_level_security.py
fails until it has."""

from django.db import migrations

from oms.rls import EnableRowLevelSecurity

TENANT_TABLES = [
    "billing_billingaccount",
    "billing_billingsettings",
    "billing_debitmemo",
    "billing_documentsequence",
    "billing_invoice",
    "customers_address",
    "customers_customer",
    "fulfilments_carrier",
    "fulfilments_fulfilment",
    "fulfilments_fulfilmentitem",
    "fulfilments_location",
    "fulfilments_stockposition",
    "oms_activity",
    "oms_outboundemail",
    "orders_comment",
    "orders_intakechannel",
    "orders_intakemessage",
    "orders_memo",
    "orders_order",
    "orders_orderline",
    "orders_orderstatus",
    "orders_payment",
    "orders_paymenttransaction",
    "orders_shipment",
    "orders_shipmentevent",
    "orders_task",
    "orders_ticket",
    "orders_ticketmessage",
    "returns_return",
    "returns_returnaction",
    "returns_returncondition",
    "returns_returnfulfilment",
    "returns_returnitem",
    "returns_returnreason",
]


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0002_outboundemail_attachment"),
        ("orders", "0008_postgres_search_indexes"),
        ("customers", "0002_search_and_list_indexes"),
        ("fulfilments", "0002_list_index"),
        ("returns", "0002_list_and_search_indexes"),
        ("billing", "0002_billingaccount_debitmemo_and_more"),
    ]

    operations = [EnableRowLevelSecurity(TENANT_TABLES)]
