"""Streamed CSV exports of filtered lists: every matching row, read in chunks."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

# A cell a spreadsheet would run as a formula when the file is opened (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value: Any) -> Any:
    """The value as a spreadsheet should read it: a text that would start a formula gets a
    leading apostrophe, so it is shown as written and never run; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


# What may not stand in a file name: control characters (CR/LF end a header), quotes, slashes
# and the invisible marks that turn text right to left (".pdf" shown as "fdp.").
UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f"\\/\u200e\u200f\u202a-\u202e\u2066-\u2069]+')
NAME_LENGTH = 120


def disposition(filename: str, *, inline: bool = False) -> str:
    """The Content-Disposition header of a file named after a record (an order ref, an invoice
    number): what cannot stand in a header or a file name becomes "-", a long name is cut before
    its extension, and non-ASCII letters are kept (RFC 6266 `filename*`)."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    stem = UNSAFE_IN_NAME.sub("-", stem)[:NAME_LENGTH] or "download"
    extension = UNSAFE_IN_NAME.sub("-", extension)[:10]
    return content_disposition_header(not inline, f"{stem}{dot}{extension}")


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
        headers={"Content-Disposition": disposition(filename)},
    )


def csv_bytes(rows: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> bytes:
    """The same CSV as `csv_response`, whole, for a file kept to download later."""
    writer = csv.writer(_Echo())
    lines = ["\ufeff" + writer.writerow([title for title, _ in columns])]
    lines += [writer.writerow([cell(value(row)) for _, value in columns]) for row in rows]
    return "".join(lines).encode()
