"""Admins keep their retailer's intake channels: name, format, the rules processing applies
(`orders.intake.processing.validate` reads them) and the secret a channel signs with.

A channel's code is part of the address it posts to, so it is set once. Its secret is made here,
shown to the admin once, and never written to activity or logs; rotating it makes the old one
stop working at once.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from oms import activity, bounds, locking
from oms.roles import Role, require_role
from orders.intake.kinds import ADAPTERS
from orders.intake.models import IntakeChannel

activity.describe_as("orders.intakechannel.created", "Intake channel {name} ({code}) added")
activity.describe_as("orders.intakechannel.updated", "Intake channel {name} changed: {changes}")
activity.describe_as(
    "orders.intakechannel.activated", "Intake channel {name} ({code}) takes orders again"
)
activity.describe_as(
    "orders.intakechannel.deactivated", "Intake channel {name} ({code}) deactivated"
)
activity.describe_as(
    "orders.intakechannel.secret_set",
    "Signing secret of intake channel {name} ({code}) set to the platform's; the old one no "
    "longer works",
)
activity.describe_as(
    "orders.intakechannel.secret_rotated",
    "Signing secret of intake channel {name} ({code}) replaced; the old one no longer works",
)

DEFAULT_TOLERANCE = Decimal("0.01")  # what processing allows when the channel says nothing
MOST_TOLERANCE = Decimal("1000.00")
# a secret a platform made (Shopify's signing key, a WooCommerce webhook's secret): long enough to
# be one, short enough for the column, printable and without spaces
SECRET_LENGTHS = (16, 100)
RULE_NAMES = ("require_phone", "require_known_sku", "total_tolerance")
FIELDS = ("name", "kind", *RULE_NAMES)


def new_secret() -> str:
    return secrets.token_hex(24)


def masked(secret: str) -> str:
    """A secret as a page may show it: its last four characters."""
    return f"••••••••{secret[-4:]}" if len(secret) >= 12 else "••••••••"


def rules_of(channel: IntakeChannel) -> dict[str, Any]:
    """The channel's rules, defaults filled in: what processing applies (`processing.validate`)
    and the settings page shows."""
    tolerance = channel.rule("total_tolerance", DEFAULT_TOLERANCE)
    try:
        tolerance = bounds.check_money(tolerance)
    except ValidationError:
        tolerance = DEFAULT_TOLERANCE
    if channel.kind in ADAPTERS and ADAPTERS[channel.kind].exact_total:
        tolerance = Decimal("0.00")  # the platform's totals are exact: they must match
    return {
        "require_phone": channel.rule("require_phone", False) is True,
        "require_known_sku": channel.rule("require_known_sku", False) is True,
        "total_tolerance": tolerance,
    }


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The values, each within its bound; every fault, by field, in one refusal."""
    errors: dict[str, list[str]] = {}
    clean = dict(values)
    if "name" in values:
        name = str(values["name"]).strip()
        if not name:
            errors["name"] = ["Required."]
        else:
            try:
                clean["name"] = bounds.check_text(name, IntakeChannel, "name")
            except ValidationError as error:
                errors["name"] = error.messages
    if "code" in values:
        code = str(values["code"]).strip().lower()
        try:
            validate_slug(code)
            clean["code"] = bounds.check_text(code, IntakeChannel, "code")
        except ValidationError:
            errors["code"] = [
                "Letters, digits, hyphens and underscores only, at most "
                f"{bounds.text_limit(IntakeChannel, 'code')} characters."
            ]
    if "kind" in values and values["kind"] not in IntakeChannel.Kind.values:
        errors["kind"] = ["Choose the format the channel sends."]
    for name in ("require_phone", "require_known_sku"):
        if name in values and not isinstance(values[name], bool):
            errors[name] = ["Yes or no."]
    if "total_tolerance" in values:
        try:
            tolerance = bounds.check_money(values["total_tolerance"])
        except ValidationError as error:
            errors["total_tolerance"] = error.messages
        else:
            if tolerance > MOST_TOLERANCE:
                errors["total_tolerance"] = [f"At most {MOST_TOLERANCE}."]
            clean["total_tolerance"] = tolerance
    if errors:
        raise ValidationError(errors)
    return clean


def _rules(values: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """The channel's rules with the given ones set (a rule it has that this form does not know
    is kept as it is)."""
    kept = dict(rules) if isinstance(rules, dict) else {}
    for name in ("require_phone", "require_known_sku"):
        if name in values:
            kept[name] = values[name]
    if "total_tolerance" in values:
        kept["total_tolerance"] = str(values["total_tolerance"])
    return kept


@transaction.atomic
def channel_create(
    *,
    retailer_id: int,
    by,
    code: str,
    name: str,
    kind: str,
    require_phone: bool = False,
    require_known_sku: bool = False,
    total_tolerance: Decimal = DEFAULT_TOLERANCE,
) -> IntakeChannel:
    """A new channel with a new secret (read it from the channel once, to show it)."""
    require_role(by, retailer_id, Role.ADMIN)
    values = _checked(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "require_phone": require_phone,
            "require_known_sku": require_known_sku,
            "total_tolerance": total_tolerance,
        }
    )
    if IntakeChannel.objects.filter(retailer_id=retailer_id, code=values["code"]).exists():
        raise ValidationError({"code": f"There is a channel {values['code']} already."})
    channel = IntakeChannel.objects.create(
        retailer_id=retailer_id,
        code=values["code"],
        name=values["name"],
        kind=values["kind"],
        secret=new_secret(),
        rules=_rules(values, {}),
    )
    activity.record(
        action="orders.intakechannel.created",
        target=channel,
        by=by,
        data={
            "code": channel.code,
            "name": channel.name,
            "kind": channel.get_kind_display(),
            "rules": channel.rules,
        },
    )
    return channel


def _said(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "kind":
        return str(IntakeChannel.Kind(value).label) if value in IntakeChannel.Kind.values else "—"
    return str(value)


@transaction.atomic
def channel_update(*, channel: IntakeChannel, by, **values: Any) -> IntakeChannel:
    """Change a channel's name, format or rules (its code and secret stay)."""
    require_role(by, channel.retailer_id, Role.ADMIN)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(f"A channel has no {', '.join(sorted(unknown))} to change here.")
    values = _checked(values)
    channel = locking.lock(channel)
    before = {"name": channel.name, "kind": channel.kind, **rules_of(channel)}
    after = {**before, **values}
    changed = [name for name in FIELDS if before[name] != after[name]]
    if not changed:
        return channel
    channel.name, channel.kind = after["name"], after["kind"]
    channel.rules = _rules({k: v for k, v in values.items() if k in RULE_NAMES}, channel.rules)
    channel.save(update_fields=["name", "kind", "rules"])
    activity.record(
        action="orders.intakechannel.updated",
        target=channel,
        by=by,
        data={
            "code": channel.code,
            "name": channel.name,
            "changes": "; ".join(
                f"{name.replace('_', ' ')} {_said(name, before[name])} → {_said(name, after[name])}"
                for name in changed
            ),
            "before": {name: _said(name, before[name]) for name in changed},
            "after": {name: _said(name, after[name]) for name in changed},
        },
    )
    return channel


@transaction.atomic
def channel_toggle(*, channel: IntakeChannel, by) -> IntakeChannel:
    """Stop taking a channel's messages (they are answered 404) or take them again."""
    require_role(by, channel.retailer_id, Role.ADMIN)
    channel = locking.lock(channel)
    channel.is_active = not channel.is_active
    channel.save(update_fields=["is_active"])
    activity.record(
        action=f"orders.intakechannel.{'activated' if channel.is_active else 'deactivated'}",
        target=channel,
        by=by,
        data={"code": channel.code, "name": channel.name, "is_active": channel.is_active},
    )
    return channel


@transaction.atomic
def channel_rotate_secret(*, channel: IntakeChannel, by) -> IntakeChannel:
    """Give the channel a new secret; from now on only a message signed with it is taken.
    The activity says that it was replaced, never what either secret is."""
    require_role(by, channel.retailer_id, Role.ADMIN)
    return _sign_with(channel, by, new_secret(), "secret_rotated", "replaced")


def _sign_with(channel: IntakeChannel, by, secret: str, action: str, said: str) -> IntakeChannel:
    """Lock the channel, give it `secret` and record that it changed, never what it is."""
    channel = locking.lock(channel)
    channel.secret = secret
    channel.save(update_fields=["secret"])
    activity.record(
        action=f"orders.intakechannel.{action}",
        target=channel,
        by=by,
        data={"code": channel.code, "name": channel.name, "secret": said},
    )
    return channel


def _check_secret(secret: Any) -> str:
    least, most = SECRET_LENGTHS
    text = secret.strip() if isinstance(secret, str) else ""
    if not least <= len(text) <= most:
        raise ValidationError({"secret": f"A secret has {least} to {most} characters."})
    if not all("!" <= char <= "~" for char in text):
        raise ValidationError(
            {"secret": "A secret has letters, digits and punctuation only, with no spaces."}
        )
    return text


@transaction.atomic
def channel_set_secret(*, channel: IntakeChannel, by, secret: str) -> IntakeChannel:
    """Sign with a secret the platform made (Shopify shows its own signing key; a WooCommerce
    webhook has the secret typed into it): from now on only a message signed with it is taken.
    The activity says that it was set, never what it is."""
    require_role(by, channel.retailer_id, Role.ADMIN)
    return _sign_with(channel, by, _check_secret(secret), "secret_set", "set by hand")
