"""Import orders from a file through the same intake flow as every channel."""

import csv
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from oms import rls
from orders.intake.models import IntakeChannel, IntakeMessage
from orders.intake.processing import intake_process, intake_receive


class Command(BaseCommand):
    help = (
        "Import orders from a JSON lines file (one web-store order a line) or a CSV file "
        "(id,email,first_name,last_name,street,zip,city,country,currency,sku,title,qty,price; "
        "one order line a row, rows of one order share its id) into a retailer's batch channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--retailer", required=True, help="The retailer's ref")
        parser.add_argument("--channel", default="batch", help="The batch channel's code")

    def handle(self, *args, file, retailer, channel, **options):
        rls.use_all_retailers()  # a command works across retailers
        path = Path(file)
        if not path.exists():
            raise CommandError(f"No file {file}.")
        found = IntakeChannel.objects.filter(retailer__ref=retailer, code=channel).first()
        if found is None:
            raise CommandError(f"Retailer {retailer} has no channel {channel}.")
        bodies = list(self._bodies(path))
        counts: dict[str, int] = {}
        for body in bodies:
            message = intake_receive(channel=found, body=body)
            status = intake_process(message_id=message.pk)
            counts[status] = counts.get(status, 0) + 1
            if status != IntakeMessage.Status.ACCEPTED:
                message.refresh_from_db()
                self.stdout.write(
                    f"{message.external_id or message.pk}: {status}: {'; '.join(message.reasons)}"
                )
        summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{len(bodies)} messages: {summary or 'none'}"))

    @staticmethod
    def _bodies(path: Path):
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() != ".csv":
            yield from (line for line in text.splitlines() if line.strip())
            return
        orders: dict[str, dict] = {}
        for row in csv.DictReader(text.splitlines()):
            order = orders.setdefault(
                row["id"],
                {
                    "id": row["id"],
                    "currency": row.get("currency", ""),
                    "customer": {
                        "email": row.get("email", ""),
                        "first_name": row.get("first_name", ""),
                        "last_name": row.get("last_name", ""),
                    },
                    "shipping_address": {
                        "street": row.get("street", ""),
                        "zip": row.get("zip", ""),
                        "city": row.get("city", ""),
                        "country": row.get("country", ""),
                    },
                    "lines": [],
                },
            )
            order["lines"].append(
                {
                    "sku": row.get("sku", ""),
                    "title": row.get("title", ""),
                    "qty": row.get("qty", ""),
                    "price": row.get("price", ""),
                }
            )
        for order in orders.values():
            yield json.dumps(order)
