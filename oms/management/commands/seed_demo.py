"""Load the demo data: retailers acme and globex, their staff, and their records.

Safe to run again: rows are found by their natural keys, so a second run creates nothing and
changes nothing.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from oms.roles import Role
from tests.factories import MembershipFactory, RetailerFactory, UserFactory

RETAILERS = [
    {
        "ref": "acme",
        "name": "Acme Outfitters",
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "languages": ["en", "nl", "de"],
    },
    {
        "ref": "globex",
        "name": "Globex Home",
        "currency": "GBP",
        "time_zone": "Europe/London",
        "languages": ["en"],
    },
]

# username, first name, last name, memberships as (retailer ref, role)
USERS = [
    ("agent", "Ada", "Agent", [("acme", Role.AGENT)]),
    ("manager", "Max", "Manager", [("acme", Role.MANAGER)]),
    ("admin", "Alex", "Admin", [("acme", Role.ADMIN)]),
    ("globex.agent", "Greta", "Globex", [("globex", Role.AGENT)]),
    ("multi.agent", "Milo", "Multi", [("acme", Role.AGENT), ("globex", Role.AGENT)]),
]


class Command(BaseCommand):
    help = "Create the demo retailers, users and records (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--orders", type=int, default=200, help="Orders per retailer (default 200)."
        )

    @transaction.atomic
    def handle(self, *args, **options):
        retailers = {spec["ref"]: RetailerFactory(**spec) for spec in RETAILERS}
        for username, first, last, memberships in USERS:
            user = UserFactory(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@oms.localhost",
            )
            for ref, role in memberships:
                MembershipFactory(user=user, retailer=retailers[ref], role=role)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: {len(retailers)} retailers, {len(USERS)} users.")
        )
