"""A retailer's hold rules: kept by its admins, evaluated once, when an order is placed.

Each rule is one of a fixed set of conditions (`HoldRule.Condition`) with bounded parameters;
a rule that matches sets its hold flag on the new order, records which rule and why on the
order, and names the rule in the order's Activity. Clearing such a hold is the manager's, as
for a hold set by hand (`order_hold_clear`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer
from oms import bounds
from oms.roles import Role, require_role
from oms.templatetags.money import format_money
from orders import events
from orders.models import HoldRule, Order, OrderType

# the most countries a rule lists (every country there is, about)
MOST_COUNTRIES = 250
# the most rules a retailer keeps: every placed order reads them all
MOST_RULES = 50
AMOUNT_CONDITIONS = (HoldRule.Condition.NEW_CUSTOMER_OVER, HoldRule.Condition.TOTAL_OVER)


def _countries(raw) -> list[str]:
    """ISO codes from a list, or a text with codes or English names separated by commas."""
    if raw is None or raw == "":
        return []
    parts = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    if len(parts) > MOST_COUNTRIES:
        raise ValidationError({"countries": f"At most {MOST_COUNTRIES} countries."})
    codes, faults = [], []
    for part in parts:
        text = str(part).strip()
        if not text:
            continue
        try:
            code = bounds.country_code(text)
        except ValidationError as error:
            faults.append(" ".join(error.messages))
            continue
        if code not in codes:
            codes.append(code)
    if faults:
        raise ValidationError({"countries": " ".join(faults)})
    return codes


def _checked(*, name, kind, condition, amount, countries) -> dict:
    """The rule's fields, each within its bounds, or a ValidationError naming every fault."""
    faults: dict[str, str] = {}
    name = " ".join(str(name or "").split())
    if not name:
        faults["name"] = "Give the rule a name."
    else:
        try:
            bounds.check_text(name, HoldRule, "name")
        except ValidationError as error:
            faults["name"] = " ".join(error.messages)
    if kind not in HoldRule.Kind.values:
        faults["kind"] = f"A hold is one of: {', '.join(HoldRule.Kind.labels)}."
    if condition not in HoldRule.Condition.values:
        faults["condition"] = "Choose one of the conditions offered."
    if amount in (None, ""):
        amount = None
    else:
        try:
            amount = bounds.check_money(amount)
        except ValidationError as error:
            faults["amount"] = " ".join(error.messages)
            amount = None
    try:
        codes = _countries(countries)
    except ValidationError as error:
        faults.update({k: " ".join(v) for k, v in error.message_dict.items()})
        codes = []
    if condition in AMOUNT_CONDITIONS and amount is None and "amount" not in faults:
        faults["amount"] = "This condition needs the amount an order's total must go above."
    if condition == HoldRule.Condition.SHIPS_OUTSIDE and not codes and "countries" not in faults:
        faults["countries"] = "List the countries orders may ship to without a hold."
    if faults:
        raise ValidationError(faults)
    return {
        "name": name,
        "kind": kind,
        "condition": condition,
        # a parameter the condition does not read is not kept
        "amount": amount if condition in AMOUNT_CONDITIONS else None,
        "countries": codes if condition == HoldRule.Condition.SHIPS_OUTSIDE else [],
    }


def _shown(rule: HoldRule) -> dict:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "condition": rule.condition,
        "amount": None if rule.amount is None else str(rule.amount),
        "countries": list(rule.countries),
    }


@transaction.atomic
def hold_rule_save(
    *,
    retailer_id: int,
    by,
    name: str,
    kind: str,
    condition: str,
    amount=None,
    countries=None,
    rule: HoldRule | None = None,
) -> HoldRule:
    """Add a hold rule, or change one (admins of its retailer)."""
    require_role(by, retailer_id, Role.ADMIN)
    if rule is not None and rule.retailer_id != retailer_id:
        raise ValidationError({"rule": "The rule belongs to another retailer."})
    fields = _checked(name=name, kind=kind, condition=condition, amount=amount, countries=countries)
    if rule is None and HoldRule.objects.filter(retailer_id=retailer_id).count() >= MOST_RULES:
        raise ValidationError({"name": f"A retailer keeps at most {MOST_RULES} hold rules."})
    before = None if rule is None else _shown(HoldRule.objects.get(pk=rule.pk))
    rule = rule or HoldRule(retailer_id=retailer_id)
    for field, value in fields.items():
        setattr(rule, field, value)
    try:
        with transaction.atomic():
            if before is None:
                rule.save()
            else:
                rule.save(update_fields=list(fields))
    except IntegrityError:
        raise ValidationError({"name": f"There is a rule named “{rule.name}” already."}) from None
    events.hold_rule_saved(rule, before=before, after=_shown(rule), by=by)
    return rule


@transaction.atomic
def hold_rule_set_active(*, rule: HoldRule, by, active: bool) -> HoldRule:
    """Stop applying a rule to new orders (the orders it held keep naming it), or apply it
    again."""
    require_role(by, rule.retailer_id, Role.ADMIN)
    if HoldRule.objects.filter(pk=rule.pk).update(is_active=active) != 1:
        raise ValidationError({"rule": "The rule is gone."})
    rule.is_active = active
    events.hold_rule_active_set(rule, by=by)
    return rule


def _is_new_customer(order: Order) -> bool:
    """No earlier order of the same customer (a guest order counts as a new customer's)."""
    if order.customer_id is None:
        return True
    return (
        not Order.objects.filter(retailer_id=order.retailer_id, customer_id=order.customer_id)
        .exclude(pk=order.pk)
        .filter(placed_at__lte=order.placed_at)
        .exists()
    )


def _is_business(order: Order) -> bool:
    customer = order.customer
    if customer is not None and customer.segment == Customer.Segment.BUSINESS:
        return True
    billing = order.billing_address
    return billing is not None and bool(billing.company.strip())


def why_held(rule: HoldRule, order: Order) -> str:
    """Why the rule holds the order, in words; empty when it does not."""
    money = format_money
    if rule.condition == HoldRule.Condition.TOTAL_OVER:
        if rule.amount is not None and order.total > rule.amount:
            return (
                f"Total {money(order.total, order.currency)} is above "
                f"{money(rule.amount, order.currency)}."
            )
    elif rule.condition == HoldRule.Condition.NEW_CUSTOMER_OVER:
        if rule.amount is not None and order.total > rule.amount and _is_new_customer(order):
            return (
                f"Total {money(order.total, order.currency)} is above "
                f"{money(rule.amount, order.currency)} from a customer with no earlier orders."
            )
    elif rule.condition == HoldRule.Condition.BUSINESS_WITHOUT_VAT:
        if _is_business(order) and not order.vat_number.strip():
            return "A business order without a VAT number."
    elif rule.condition == HoldRule.Condition.SHIPS_OUTSIDE:
        address = order.shipping_address
        if (
            order.type == OrderType.HOME_DELIVERY
            and address is not None
            and address.country
            and address.country not in rule.countries
        ):
            return f"Delivery to {address.country}, outside {', '.join(rule.countries)}."
    return ""


def holds_apply(*, order: Order) -> list[HoldRule]:
    """Hold a newly placed order as its retailer's active rules say: the first rule of each
    kind that matches sets the flag and is recorded on the order with why. The rules that held
    it. Called by `order_place` inside its transaction."""
    rules = list(HoldRule.objects.filter(retailer_id=order.retailer_id, is_active=True))
    applied: list[HoldRule] = []
    changed: list[str] = []
    for rule in rules:
        flag = rule.flag
        if getattr(order, flag):
            continue  # held for this already; the first matching rule says why
        why = why_held(rule, order)
        if not why:
            continue
        setattr(order, flag, True)
        setattr(order, f"{flag}_rule", rule)
        setattr(order, f"{flag}_why", why[: bounds.text_limit(Order, f"{flag}_why")])
        changed += [flag, f"{flag}_rule", f"{flag}_why"]
        applied.append(rule)
    if changed:
        order.save(update_fields=changed)
        for rule in applied:
            events.order_held_by_rule(order, rule=rule, why=getattr(order, f"{rule.flag}_why"))
    return applied
