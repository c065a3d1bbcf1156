"""Payment operations still pending, in time order: the relay, /metrics and /readyz read them
without walking every operation ever made."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_document_languages"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="paymenttransaction",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["created_at"],
                name="transaction_pending",
            ),
        ),
    ]
