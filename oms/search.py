"""Search keys: the upper-cased copy of a ref, email or tracking number that searches compare.

Row-level security (`oms.rls`) makes Postgres apply a table's policy before any condition built
on a function it does not know to be leakproof, and `UPPER(...)` and `LIKE` are not: under the
policy an index on `UPPER(ref)` goes unused and a ref search reads every row of the retailer. A
key column holds `UPPER(value)`, computed by the database on every write (a generated column, so
bulk loads and COPY fill it too), and searches compare it with operators that are leakproof:
`=` for an exact match, and for a prefix the pattern operators `~>=~` and `~<~` (a byte-wise
range, which the key's `text_pattern_ops` index serves whatever the database's collation).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Lookup, Q
from django.db.models.functions import Upper

SURROGATES = range(0xD800, 0xE000)


def key_field(source: str) -> models.GeneratedField:
    """A stored column holding `UPPER(source)`, for exact and prefix searches."""
    return models.GeneratedField(
        expression=Upper(source), output_field=models.TextField(), db_persist=True
    )


def search_key(text: str) -> str:
    """The key a typed value is compared with (refs, emails and tracking numbers are ASCII,
    where Python's and the database's upper case agree)."""
    return text.strip().upper()


def name_words(text: str, first: str = "first_name", last: str = "last_name") -> Q:
    """Each word of `text` somewhere in the first or the last name ("jan de vries")."""
    match = Q()
    for word in text.split():
        match &= Q(**{f"{first}__icontains": word}) | Q(**{f"{last}__icontains": word})
    return match


def could_be_a_name(text: str) -> bool:
    """Whether a search box value may be a person's name: refs and tracking numbers have
    digits, names do not, so a value with digits is not looked up among names."""
    return not any(character.isdigit() for character in text)


def prefix_bound(prefix: str) -> str | None:
    """The smallest string above every string that starts with `prefix`, in code point order
    (UTF-8 byte order), or None when there is none."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if last in SURROGATES:
            last = SURROGATES.stop
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


@models.TextField.register_lookup
class KeyPrefix(Lookup):
    """`ref_key__key_prefix="B01-00"`: keys starting with the value, as a range."""

    lookup_name = "key_prefix"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        prefix = str(self.rhs)
        ge, lt = ("~>=~", "~<~") if connection.vendor == "postgresql" else (">=", "<")
        sql, params = f"{lhs} {ge} %s", [*lhs_params, prefix]
        bound = prefix_bound(prefix)
        if bound is not None:
            sql += f" AND {lhs} {lt} %s"
            params += [*lhs_params, bound]
        return f"({sql})", params
