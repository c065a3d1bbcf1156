"""Intake throughput: order messages per second through receive and process in one process.

For the largest retailer (`bench-01`) it sends `messages` distinct, valid web-store orders (refs
unique to the run, one in four from a returning customer) through the two steps of the intake
flow, one message at a time, as the web process and a Celery worker run them:

- receive: `intake_receive` stores the raw message and, once that commits, hands the
  `process_intake_message` task to the broker;
- process: `intake_process`, the function that task calls (as its first attempt), maps,
  validates and applies the message in one transaction: customer, addresses, order, lines,
  payment, activity, invoice.

Broker hand-offs (the intake task, and whatever else the processing queues) are recorded instead
of sent, so nothing runs twice and no broker is needed; they are counted in `queued`. Reported:
messages/s for the whole flow, p50 / p95 per message and per step, accepted vs rejected (with the
reasons of a few rejected), and, optionally, the HTTP receive path alone: the signed POST to
/intake/<retailer>/<channel>/ through Django's full request handling (test client, in process).

    DATABASE_URL=... python bench/intake.py [--messages 2000] [--http-messages 200]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, as well as imported

from bench.stats import percentile  # noqa: E402

RETAILER = "bench-01"
CHANNEL = "bench-web"


def stats(times: list[float]) -> dict:
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
    }


def payload(external_id: str, email: str, currency: str, n: int) -> dict:
    """A web-store order (orders/intake/adapters.py WebstoreAdapter) whose total adds up."""
    lines = [
        {"sku": f"SKU-{(n + k) % 500:04d}", "title": f"Item {k}", "qty": 1 + k, "price": "19.95"}
        for k in range(1 + n % 3)
    ]
    total = sum(Decimal(line["price"]) * line["qty"] for line in lines) + Decimal("4.95")
    return {
        "id": external_id,
        "created_at": "2026-11-20T10:15:00Z",
        "currency": currency,
        "customer": {"email": email, "first_name": "Bench", "last_name": f"Buyer {n}"},
        "shipping_address": {
            "street": f"Oudegracht {n % 300 + 1}",
            "zip": "3511 AB",
            "city": "Utrecht",
            "country": "nl",
        },
        "lines": lines,
        "shipping_cost": "4.95",
        "total": str(total),
        "payment": {"method": "card"},
    }


@contextmanager
def broker_recorded():
    """Record every task hand-off (task.delay / apply_async) instead of sending it."""
    from celery.app.task import Task

    queued: list[tuple[str, tuple]] = []

    def record(task, args=None, kwargs=None, **options):
        queued.append((task.name, tuple(args or ())))

    with mock.patch.object(Task, "apply_async", record):
        yield queued


def run_intake(*, messages: int = 2000, http_messages: int = 0) -> dict:
    """Time `messages` orders through receive + process (see the module docstring)."""
    from django.db.models import Count
    from django.test import Client

    from customers.models import Customer
    from oms.models import Retailer
    from orders.intake.models import IntakeChannel, IntakeMessage
    from orders.intake.processing import intake_process, intake_receive, signature

    retailer = Retailer.objects.filter(ref=RETAILER).first()
    if retailer is None:
        raise RuntimeError(f"No retailer {RETAILER!r}: run `manage.py generate_data` first.")
    channel, _ = IntakeChannel.objects.get_or_create(
        retailer=retailer,
        code=CHANNEL,
        defaults={"name": "Bench web store", "kind": IntakeChannel.Kind.WEBSTORE},
    )
    returning = list(
        Customer.objects.filter(retailer=retailer).values_list("email", flat=True)[:100]
    )
    run = f"{int(time.time()):x}{secrets.token_hex(2)}".upper()  # unique to this run

    def body(n: int, prefix: str) -> str:
        email = returning[n % len(returning)] if returning and n % 4 == 0 else None
        email = email or f"bench.{run.lower()}.{prefix.lower()}{n}@example.com"
        return json.dumps(payload(f"{run}-{prefix}{n:06d}", email, retailer.currency, n))

    bodies = [body(n, "M") for n in range(messages)]
    receive_ms, process_ms, total_ms, ids, failures = [], [], [], [], []
    with broker_recorded() as queued:
        started = time.perf_counter()
        for text in bodies:
            t0 = time.perf_counter()
            message = intake_receive(channel=channel, body=text)
            t1 = time.perf_counter()
            try:
                intake_process(message_id=message.pk, last_attempt=False)
            except Exception as error:  # a worker would retry it
                failures.append(f"{type(error).__name__}: {error}")
            t2 = time.perf_counter()
            ids.append(message.pk)
            receive_ms.append((t1 - t0) * 1000)
            process_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
        elapsed = time.perf_counter() - started

        http = None
        if http_messages:
            client, url = Client(), f"/intake/{retailer.ref}/{channel.code}/"
            http_ms, http_ids, statuses = [], [], Counter()
            for n in range(http_messages):
                raw = body(n, "H").encode()
                t0 = time.perf_counter()
                response = client.post(
                    url,
                    raw,
                    content_type="application/json",
                    headers={"X-Signature": signature(channel.secret, raw)},
                    HTTP_HOST="localhost",
                    secure=True,
                )
                http_ms.append((time.perf_counter() - t0) * 1000)
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    http_ids.append(int(response.json()["id"]))
            for pk in http_ids:  # leave no backlog for the relay
                intake_process(message_id=pk, last_attempt=True)
            http = {
                "messages": http_messages,
                "statuses": dict(statuses),
                "receive_per_s": round(1000 * len(http_ms) / sum(http_ms), 1),
                **stats(http_ms),
            }

    done = dict(
        IntakeMessage.objects.filter(pk__in=ids)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rejected = IntakeMessage.objects.filter(pk__in=ids).exclude(status="ACCEPTED")
    return {
        "messages": messages,
        "run": run,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(messages / elapsed, 1),
        **stats(total_ms),
        "receive": stats(receive_ms),
        "process": stats(process_ms),
        "accepted": done.get("ACCEPTED", 0),
        "rejected": messages - done.get("ACCEPTED", 0),
        "statuses": done,
        "reject_reasons": [m.reasons for m in rejected[:5]] + failures[:5],
        "queued": dict(Counter(name for name, _ in queued)),
        "http": http,
    }


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("DEBUG", "false")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--http-messages", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    result = run_intake(messages=args.messages, http_messages=args.http_messages)
    print(json.dumps(result, indent=2))
    if result["rejected"]:
        sys.exit(f"{result['rejected']} messages were not accepted: {result['reject_reasons']}")


if __name__ == "__main__":
    main()
