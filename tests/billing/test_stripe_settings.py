"""Which provider each retailer pays through, and Stripe's secrets, read from the environment as
a server process reads them at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(sorted(s.PAYMENT_PROVIDER_BY_RETAILER.items()), s.STRIPE_API_KEY_BY_RETAILER)"
)


def _start(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENT_"))}
    return subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=ROOT,
        env=base
        | {"DJANGO_SETTINGS_MODULE": "oms.settings", "DATABASE_URL": "sqlite:///:memory:"}
        | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "value",
    ["acme=stripe, globex=simulated", '{"acme": "stripe", "globex": "simulated"}'],
)
def test_providers_by_retailer_are_read_as_pairs_or_json(value):
    started = _start(
        DEBUG="false",
        SECRET_KEY="x" * 50,
        PAYMENT_PROVIDER_BY_RETAILER=value,
        STRIPE_API_KEY="sk_test_platform",
        STRIPE_WEBHOOK_SECRET="whsec_platform",
        STRIPE_API_KEY_BY_RETAILER="acme=sk_test_acme",
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == (
        "[('acme', 'stripe'), ('globex', 'simulated')] {'acme': 'sk_test_acme'}"
    )


def test_a_retailer_on_stripe_without_its_secrets_refuses_to_start():
    started = _start(DEBUG="false", SECRET_KEY="x" * 50, PAYMENT_PROVIDER_BY_RETAILER="acme=stripe")
    assert started.returncode != 0
    assert "set STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET" in started.stderr


def test_an_unknown_provider_refuses_to_start():
    started = _start(PAYMENT_PROVIDER_BY_RETAILER="acme=stripe,globex=paypal", DEBUG="true")
    assert started.returncode != 0
    assert "Unknown payment providers: paypal" in started.stderr
