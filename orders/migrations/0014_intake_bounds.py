"""Intake messages keep the hash of their body (identical deliveries become DUPLICATE) and the
moment the channel sent them (an older version than the one applied last becomes STALE).

Messages already stored get the hash of their body, so a later copy of one is noticed too.
"""

import hashlib

from django.db import migrations, models


def hash_bodies(apps, schema_editor):
    IntakeMessage = apps.get_model("orders", "IntakeMessage")
    batch = []
    for message in IntakeMessage.objects.only("pk", "body").iterator(chunk_size=1000):
        message.body_hash = hashlib.sha256(message.body.encode()).hexdigest()
        batch.append(message)
        if len(batch) == 1000:
            IntakeMessage.objects.bulk_update(batch, ["body_hash"])
            batch = []
    IntakeMessage.objects.bulk_update(batch, ["body_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("oms", "0006_retailer_date_window"),
        ("orders", "0013_line_units"),
    ]

    operations = [
        migrations.AddField(
            model_name="intakemessage",
            name="body_hash",
            field=models.CharField(
                blank=True,
                help_text="SHA-256 of the body: identical deliveries share it",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="intakemessage",
            name="sent_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the channel sent this version of the order (its own stamp)",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="intakemessage",
            name="status",
            field=models.CharField(
                choices=[
                    ("RECEIVED", "Received"),
                    ("ACCEPTED", "Accepted"),
                    ("REJECTED", "Rejected"),
                    ("DEAD", "Dead"),
                    ("DISCARDED", "Discarded"),
                    ("DUPLICATE", "Duplicate"),
                    ("STALE", "Stale"),
                ],
                default="RECEIVED",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="intakemessage",
            index=models.Index(fields=["channel", "body_hash"], name="intake_by_body_hash"),
        ),
        migrations.RunPython(hash_bodies, migrations.RunPython.noop, elidable=True),
    ]
