"""Times oscar's pages in its own process, for bench/peers/compare.py.

Run with the oscar virtual environment's python. It logs the staff user in with Django's test
client, says `{"ready": ...}` on stdout, then answers one JSON line per JSON line read on stdin:

    {"url": "/dashboard/orders/", "runs": 10}
    -> {"status": 200, "bytes": 51234, "ms": [12.3, ...], "queries": [9, ...]}

`ms` and `queries` are each request's time and queries, measured by bench/peers/timing.py as on
the back office's side. An empty line or end of input ends it.
"""

import json
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

import oscar  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from timing import timed  # noqa: E402

STAFF = "bench.staff"


def main() -> None:
    client = Client()
    client.force_login(get_user_model().objects.get(username=STAFF))
    print(json.dumps({"ready": True, "django": django.get_version(), "oscar": oscar.get_version()}))
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        print(json.dumps(timed(client, request["url"], request["runs"])))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
