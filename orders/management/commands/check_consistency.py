"""List the contradictions in the stored data (`orders.consistency`): exit status 1 when any."""

import time

from django.core.management.base import BaseCommand, CommandError

from oms import rls
from oms.models import Retailer
from orders import consistency


class Command(BaseCommand):
    help = (
        "Scan orders, items, fulfilments, shipments, payments, invoices, returns, customers and "
        "billing accounts for records that contradict each other; exit with status 1 when any do."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retailer",
            action="append",
            default=[],
            metavar="REF",
            help="Only this retailer (by ref); repeat for several. Default: every retailer.",
        )

    def handle(self, *args, retailer, **options):
        rls.use_all_retailers()  # a command works across retailers
        retailers = None
        if retailer:
            retailers = list(Retailer.objects.filter(ref__in=retailer))
            unknown = sorted(set(retailer) - {r.ref for r in retailers})
            if unknown:
                raise CommandError(f"No retailer {', '.join(unknown)}.")
        started = time.monotonic()
        findings = consistency.check(retailers)
        elapsed = time.monotonic() - started
        total = sum(f.count for f in findings)
        for finding in findings:
            self.stdout.write(f"\n{finding.rule}: {finding.count:,} ({finding.summary})")
            for each in finding.listed:
                self.stdout.write(f"  {each.record}: {each.detail}")
            if finding.count > len(finding.listed):
                self.stdout.write(f"  … and {finding.count - len(finding.listed):,} more")
        checked = f"{len(consistency.RULES)} rules checked in {elapsed:.1f} s"
        if not total:
            self.stdout.write(self.style.SUCCESS(f"0 contradictions ({checked})."))
            return
        self.stdout.write(
            self.style.ERROR(f"\n{total:,} contradictions in {len(findings)} rules ({checked}).")
        )
        raise SystemExit(1)
