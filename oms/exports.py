"""Streamed CSV exports of filtered lists: every matching row, read in chunks."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any

from django.http import StreamingHttpResponse


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
            yield writer.writerow([value(row) for _, value in columns])

    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def csv_bytes(rows: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> bytes:
    """The same CSV as `csv_response`, whole, for a file kept to download later."""
    writer = csv.writer(_Echo())
    lines = ["\ufeff" + writer.writerow([title for title, _ in columns])]
    lines += [writer.writerow([value(row) for _, value in columns]) for row in rows]
    return "".join(lines).encode()
