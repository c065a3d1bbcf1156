"""For each URL that takes an object id: how to build that object in a retailer.

Maps a URL name to a function that, given a retailer, creates the record(s) with factories and
returns the URL's kwargs. The safety net fails when a URL with an id has no entry here, so every
new detail page, tab or action is checked for other-retailer 404s.
"""

from collections.abc import Callable
from typing import Any

from oms.models import Retailer

OBJECT_URLS: dict[str, Callable[[Retailer], dict[str, Any]]] = {}
