"""Admins keep their retailer's fulfilment network: the locations that hold stock and ship, and the
carriers that deliver. Sourcing (`fulfilments.services.eligible_locations`) reads a location's
zones, daily capacity and whether it is active; a carrier's zones and availability; and the
at-risk rules (`orders.risk`) read a carrier's transit days.

Each change is checked here whatever sent it (the settings pages today): the admin role in the
record's retailer, every country a known ISO code, counts within their bounds, texts within their
columns. A location or carrier is deactivated, never deleted: fulfilments, stock and orders keep
pointing at it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from fulfilments import events
from fulfilments.models import Carrier, Location
from fulfilments.services import _day_load
from oms import bounds, locking
from oms.roles import Role, require_role

MOST_CAPACITY = bounds.MAX_QUANTITY  # fulfilments a day
MOST_TRANSIT_DAYS = 90
LOCATION_FIELDS = (
    "name",
    "type",
    "line1",
    "postcode",
    "city",
    "country",
    "zones",
    "daily_capacity",
)
CARRIER_FIELDS = ("name", "zones", "transit_days")


def check_zones(values: Any) -> list[str]:
    """Countries as ISO 3166 codes, each once, in the order given; every country that is not one
    is named in the refusal."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise ValidationError("Give the countries as a list.")
    if len(values) > len(bounds.COUNTRIES):
        raise ValidationError(f"At most {len(bounds.COUNTRIES)} countries.")
    codes: list[str] = []
    errors: list[str] = []
    for value in values:
        try:
            code = bounds.country_code(value)
        except ValidationError as error:
            errors += error.messages
            continue
        if code not in codes:
            codes.append(code)
    if errors:
        raise ValidationError(errors)
    return codes


def zones_text(zones: Any) -> str:
    """A record's zones as a person types them: "NL, BE, DE" (whatever the column holds)."""
    if not isinstance(zones, list):
        return ""
    return ", ".join(str(zone) for zone in zones)


def _checked(values: dict[str, Any], model, counts: dict[str, int]) -> dict[str, Any]:
    """The values, each within its bound; every fault, by field, in one refusal."""
    errors: dict[str, list[str]] = {}
    clean = dict(values)
    texts = {k: v for k, v in values.items() if isinstance(v, str) and k not in ("country",)}
    for name, reason in bounds.check_fits(texts, model).items():
        errors.setdefault(name, []).append(reason)
    for name in ("name", "ref"):
        if name in values and not str(values[name]).strip():
            errors.setdefault(name, []).append("Required.")
        elif name in values:
            clean[name] = str(values[name]).strip()
    if "type" in values and values["type"] not in Location.Type.values:
        errors.setdefault("type", []).append("Choose a kind of location.")
    if values.get("country"):
        try:
            clean["country"] = bounds.country_code(values["country"])
        except ValidationError as error:
            errors.setdefault("country", []).extend(error.messages)
    if "zones" in values:
        try:
            clean["zones"] = check_zones(values["zones"])
        except ValidationError as error:
            errors.setdefault("zones", []).extend(error.messages)
    for name, most in counts.items():
        if name in values:
            try:
                clean[name] = bounds.check_quantity(values[name], most=most)
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
    if errors:
        raise ValidationError(errors)
    return clean


def _shown(value: Any) -> str:
    return zones_text(value) if isinstance(value, list) else str(value)


def _changes(record, before: dict[str, Any], fields) -> tuple[dict, dict, str]:
    """What changed: before and after of each changed field, and the same in words."""
    changed = [name for name in fields if before[name] != getattr(record, name)]
    old = {name: before[name] for name in changed}
    new = {name: getattr(record, name) for name in changed}
    words = "; ".join(
        f"{name.replace('_', ' ')} {_shown(old[name]) or '—'} → {_shown(new[name]) or '—'}"
        for name in changed
    )
    return old, new, words


# -- locations ---------------------------------------------------------------------------------


@transaction.atomic
def location_create(
    *,
    retailer_id: int,
    by,
    ref: str,
    name: str,
    type: str = Location.Type.WAREHOUSE,
    line1: str = "",
    postcode: str = "",
    city: str = "",
    country: str = "",
    zones: list[str],
    daily_capacity: int,
) -> Location:
    """A new location of the retailer; its ref is how stock files and returns name it."""
    require_role(by, retailer_id, Role.ADMIN)
    values = _checked(
        {
            "ref": ref,
            "name": name,
            "type": type,
            "line1": line1,
            "postcode": postcode,
            "city": city,
            "country": country,
            "zones": zones,
            "daily_capacity": daily_capacity,
        },
        Location,
        {"daily_capacity": MOST_CAPACITY},
    )
    if Location.objects.filter(retailer_id=retailer_id, ref__iexact=values["ref"]).exists():
        raise ValidationError({"ref": f"There is a location {values['ref']} already."})
    location = Location.objects.create(retailer_id=retailer_id, **values)
    events.location_created(location, by=by)
    return location


def _update(record, by, values: dict[str, Any], *, fields, limits, noun, updated, check=None):
    """Change some of `fields` of a location or carrier (admins of its retailer): checked,
    locked, saved when something changed, and recorded by `updated` with before and after."""
    require_role(by, record.retailer_id, Role.ADMIN)
    unknown = set(values) - set(fields)
    if unknown:
        raise ValidationError(f"A {noun} has no {', '.join(sorted(unknown))} to change.")
    values = _checked(values, type(record), limits)
    if check is not None:
        check(values)
    record = locking.lock(record)
    before = {name: getattr(record, name) for name in fields}
    for name, value in values.items():
        setattr(record, name, value)
    old, new, words = _changes(record, before, fields)
    if not old:
        return record
    record.save(update_fields=list(old))
    updated(record, before=old, after=new, changes=words, by=by)
    return record


def _toggle(record, by, flag: str, toggled):
    """Switch a location or carrier off or on again (admins of its retailer)."""
    require_role(by, record.retailer_id, Role.ADMIN)
    record = locking.lock(record)
    setattr(record, flag, not getattr(record, flag))
    record.save(update_fields=[flag])
    toggled(record, by=by)
    return record


@transaction.atomic
def location_update(*, location: Location, by, **values: Any) -> Location:
    """Change a location's name, kind, address, zones or daily capacity (its ref stays)."""
    return _update(
        location,
        by,
        values,
        fields=LOCATION_FIELDS,
        limits={"daily_capacity": MOST_CAPACITY},
        noun="location",
        updated=events.location_updated,
    )


@transaction.atomic
def location_toggle(*, location: Location, by) -> Location:
    """Stop sourcing from a location (its fulfilments and stock stay) or start again."""
    return _toggle(location, by, "is_active", events.location_toggled)


def location_loads(locations: list[Location], day: date) -> dict[int, int]:
    """Fulfilments each location holds for orders promised on `day` (what its capacity counts)."""
    return _day_load([location.pk for location in locations], day)


# -- carriers ----------------------------------------------------------------------------------


def _check_carrier_name(retailer_id: int, name: str, *, not_pk: int | None = None) -> None:
    """Orders name their carrier by name: two carriers of one retailer never share one."""
    taken = Carrier.objects.filter(retailer_id=retailer_id, name__iexact=name)
    if not_pk is not None:
        taken = taken.exclude(pk=not_pk)
    if taken.exists():
        raise ValidationError({"name": f"There is a carrier {name} already."})


@transaction.atomic
def carrier_create(
    *, retailer_id: int, by, name: str, zones: list[str], transit_days: int
) -> Carrier:
    """A new carrier of the retailer, delivering to `zones` in `transit_days` days."""
    require_role(by, retailer_id, Role.ADMIN)
    values = _checked(
        {"name": name, "zones": zones, "transit_days": transit_days},
        Carrier,
        {"transit_days": MOST_TRANSIT_DAYS},
    )
    _check_carrier_name(retailer_id, values["name"])
    carrier = Carrier.objects.create(retailer_id=retailer_id, **values)
    events.carrier_created(carrier, by=by)
    return carrier


@transaction.atomic
def carrier_update(*, carrier: Carrier, by, **values: Any) -> Carrier:
    """Change a carrier's name, zones or transit days."""

    def name_free(values: dict[str, Any]) -> None:
        if "name" in values:
            _check_carrier_name(carrier.retailer_id, values["name"], not_pk=carrier.pk)

    return _update(
        carrier,
        by,
        values,
        fields=CARRIER_FIELDS,
        limits={"transit_days": MOST_TRANSIT_DAYS},
        noun="carrier",
        updated=events.carrier_updated,
        check=name_free,
    )


@transaction.atomic
def carrier_toggle(*, carrier: Carrier, by) -> Carrier:
    """Make a carrier unavailable (sourcing stops using it) or available again."""
    return _toggle(carrier, by, "is_available", events.carrier_toggled)
