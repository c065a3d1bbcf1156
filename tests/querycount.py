"""Assert that a page's query count does not grow with its number of rows."""

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def assert_constant_queries(
    fetch: Callable[[], Any],
    add_rows: Callable[[int], Any],
    *,
    few: int = 1,
    many: int = 50,
) -> int:
    """Fetch with `few` rows, then with `many`, and fail if the second took more queries.

    `add_rows(n)` adds n more child rows; `fetch()` renders the page (or runs the selector).
    Returns the query count, so a test can also pin it.
    """
    add_rows(few)
    with CaptureQueriesContext(connection) as with_few:
        fetch()
    add_rows(many - few)
    with CaptureQueriesContext(connection) as with_many:
        fetch()
    if len(with_many) != len(with_few):
        extra = "\n".join(q["sql"][:300] for q in with_many.captured_queries[len(with_few) :])
        raise AssertionError(
            f"{len(with_few)} queries with {few} rows but {len(with_many)} with {many}; "
            f"the extra ones include:\n{extra}"
        )
    return len(with_few)
