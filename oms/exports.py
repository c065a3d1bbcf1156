"""Streamed CSV exports of filtered lists: every matching row, read in chunks."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import StreamingHttpResponse

# A cell a spreadsheet would run as a formula when the file is opened (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value: Any) -> Any:
    """The value as a spreadsheet should read it: a text that would start a formula gets a
    leading apostrophe, so it is shown as written and never run; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    rows: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]], filename: str
) -> StreamingHttpResponse:
    """A CSV download of `rows`, one column per (title, value of a row) pair. A byte-order mark
    first, so spreadsheet programs read the UTF-8 right."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow([title for title, _ in columns])
        for row in rows:
            yield writer.writerow([cell(value(row)) for _, value in columns])

    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_bytes(rows: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> bytes:
    """The same CSV as `csv_response`, whole, for a file kept to download later."""
    writer = csv.writer(_Echo())
    lines = ["\ufeff" + writer.writerow([title for title, _ in columns])]
    lines += [writer.writerow([cell(value(row)) for _, value in columns]) for row in rows]
    return "".join(lines).encode()
