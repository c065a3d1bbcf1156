"""The tenant policy reads its settings once per query instead of once per row (oms/rls.py)."""

from importlib import import_module

from django.db import migrations

from oms.rls import EnableRowLevelSecurity

TENANT_TABLES = import_module("oms.migrations.0003_row_level_security").TENANT_TABLES


class Migration(migrations.Migration):
    dependencies = [("oms", "0003_row_level_security")]

    operations = [EnableRowLevelSecurity(TENANT_TABLES)]
