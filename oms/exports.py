"""Streamed CSV exports of filtered lists: every matching row, read in chunks.

Times are written in one time zone, named in their column's title: a column titled
"Placed ({zone})" reads "Placed (Europe/Amsterdam)", its values `moment(...)` in that zone
("2026-12-05 14:30"). The zone is the one the page shows (the user's retailer's), taken when the
export starts: the rows are written after the view has returned. Money stays a plain number
(`1234.50`) beside a Currency column, for spreadsheets and scripts to read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from oms.templatetags.dates import local

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


def moment(value: Any) -> str:
    """A moment in the export's time zone, ISO-like: `2026-12-05 14:30`; nothing for none."""
    if value is None:
        return ""
    return local(value).strftime("%Y-%m-%d %H:%M")


def _zone(zone: Any) -> Any:
    return zone if zone is not None else timezone.get_current_timezone()


def _titles(columns: list[tuple[str, Callable[[Any], Any]]], zone: Any) -> list[str]:
    return [title.replace("{zone}", str(zone)) for title, _ in columns]


def _cells(row: Any, columns: list[tuple[str, Callable[[Any], Any]]], zone: Any) -> list[Any]:
    with timezone.override(zone):
        return [cell(value(row)) for _, value in columns]


def csv_response(
    rows: Iterable[Any],
    columns: list[tuple[str, Callable[[Any], Any]]],
    filename: str,
    *,
    zone: Any = None,
) -> StreamingHttpResponse:
    """A CSV download of `rows`, one column per (title, value of a row) pair, its times in
    `zone` (the current time zone when None). A byte-order mark first, so spreadsheet programs
    read the UTF-8 right."""
    writer = csv.writer(_Echo())
    zone = _zone(zone)

    def lines():
        yield "\ufeff" + writer.writerow(_titles(columns, zone))
        for row in rows:
            yield writer.writerow(_cells(row, columns, zone))

    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition(filename)},
    )


def csv_bytes(
    rows: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]], *, zone: Any = None
) -> bytes:
    """The same CSV as `csv_response`, whole, for a file kept to download later."""
    writer = csv.writer(_Echo())
    zone = _zone(zone)
    lines = ["\ufeff" + writer.writerow(_titles(columns, zone))]
    lines += [writer.writerow(_cells(row, columns, zone)) for row in rows]
    return "".join(lines).encode()
