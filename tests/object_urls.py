"""For each URL that takes an object id: how to build that object in a retailer.

Maps a URL name to a function that, given a retailer, creates the record(s) with factories and
returns the URL's kwargs. The safety net fails when a URL with an id has no entry here, so every
new detail page, tab or action is checked for other-retailer 404s.
"""

from collections.abc import Callable
from typing import Any

from oms.models import Retailer
from tests.factories import OrderFactory, TaskFactory


def _order(retailer: Retailer) -> dict[str, Any]:
    return {"pk": OrderFactory(retailer=retailer, lines=1).pk}


def _order_tab(retailer: Retailer) -> dict[str, Any]:
    return {**_order(retailer), "tab": "activity"}


def _order_task(retailer: Retailer) -> dict[str, Any]:
    task = TaskFactory(order=OrderFactory(retailer=retailer))
    return {"pk": task.order_id, "task_pk": task.pk}


OBJECT_URLS: dict[str, Callable[[Retailer], dict[str, Any]]] = {
    "orders:order_detail": _order,
    "orders:order_tab": _order_tab,
    "orders:comment_add": _order,
    "orders:memo_add": _order,
    "orders:task_add": _order,
    "orders:task_status": _order_task,
}
