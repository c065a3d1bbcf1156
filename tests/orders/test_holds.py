"""Automatic hold flags: a retailer's hold rules, evaluated when an order is placed, whatever
placed it, and shown with the rule that set them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from customers.models import Customer
from oms.models import Activity
from oms.state import InvalidTransition
from orders import services
from orders.intake.models import IntakeChannel
from orders.intake.processing import signature
from orders.models import HoldRule, Order, SystemState
from tests.factories import AddressFactory, CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def rule(retailer, condition, *, kind="compliance", name=None, **params) -> HoldRule:
    return HoldRule.objects.create(
        retailer=retailer, name=name or condition, kind=kind, condition=condition, **params
    )


def placed(retailer, by, *, total="100.00", customer=None, country="NL", company="", vat=""):
    """An order placed through the order services, one line worth `total`."""
    return services.order_place(
        data=services.OrderInput(
            retailer_id=retailer.pk,
            ref=f"PH-{Order.objects.count() + 1}",
            currency=retailer.currency,
            customer=customer,
            channel="phone",
            vat_number=vat,
            shipping_address=services.AddressInput(
                name="Jan Smit",
                company=company,
                line1="Main street 1",
                postcode="1000 AA",
                city="Utrecht",
                country=country,
            ),
            lines=[
                services.LineInput(sku="TENT", name="Tent", quantity=1, unit_price=Decimal(total))
            ],
        ),
        by=by,
    )


# each condition


def test_a_new_customers_order_above_the_amount_is_held_and_a_returning_customers_is_not(
    retailer, manager
):
    rule(retailer, "new_customer_over", name="New customer over 1,000", amount=Decimal("1000"))
    customer = CustomerFactory(retailer=retailer)

    first = placed(retailer, manager, total="1250.00", customer=customer)
    small = placed(retailer, manager, total="999.00", customer=CustomerFactory(retailer=retailer))
    second = placed(retailer, manager, total="1250.00", customer=customer)

    assert first.hold_compliance and first.hold_compliance_rule.name == "New customer over 1,000"
    assert "no earlier orders" in first.hold_compliance_why
    assert "1,250.00" in first.hold_compliance_why and "1,000.00" in first.hold_compliance_why
    assert not small.is_held
    assert not second.is_held  # the customer has ordered before


def test_an_order_above_the_amount_is_held_whoever_places_it(retailer, manager):
    rule(retailer, "total_over", amount=Decimal("500"))
    customer = CustomerFactory(retailer=retailer)
    OrderFactory(retailer=retailer, customer=customer)

    assert placed(retailer, manager, total="500.01", customer=customer).hold_compliance
    assert not placed(retailer, manager, total="500.00", customer=customer).is_held


def test_a_business_order_without_a_vat_number_is_held_for_documentation(retailer, manager):
    rule(retailer, "business_without_vat", kind="documentation", name="Business needs VAT")
    business = CustomerFactory(retailer=retailer, segment=Customer.Segment.BUSINESS)

    by_segment = placed(retailer, manager, customer=business)
    by_company = placed(retailer, manager, company="Smit BV")
    with_vat = placed(retailer, manager, customer=business, vat="NL123456789B01")
    consumer = placed(retailer, manager, customer=CustomerFactory(retailer=retailer))

    assert by_segment.hold_documentation and not by_segment.hold_compliance
    assert by_segment.hold_documentation_rule.name == "Business needs VAT"
    assert by_segment.hold_documentation_why == "A business order without a VAT number."
    assert by_company.hold_documentation
    assert not with_vat.is_held and with_vat.vat_number == "NL123456789B01"
    assert not consumer.is_held


def test_a_delivery_outside_the_countries_listed_is_held(retailer, manager):
    rule(retailer, "ships_outside", countries=["NL", "BE"])

    abroad = placed(retailer, manager, country="DE")

    assert abroad.hold_compliance and "DE, outside NL, BE" in abroad.hold_compliance_why
    assert not placed(retailer, manager, country="BE").is_held


def test_a_deactivated_rule_or_another_retailers_rule_holds_nothing(
    retailer, other_retailer, manager
):
    rule(retailer, "total_over", amount=Decimal("1"), is_active=False)
    rule(other_retailer, "total_over", amount=Decimal("1"))

    assert not placed(retailer, manager).is_held


def test_the_first_matching_rule_of_each_kind_holds_and_activity_names_each(retailer, manager):
    rule(retailer, "total_over", amount=Decimal("10"), name="Over 10")
    rule(retailer, "total_over", amount=Decimal("20"), name="Over 20")
    rule(retailer, "ships_outside", kind="documentation", countries=["NL"], name="Export papers")

    order = placed(retailer, manager, total="100.00", country="FR")

    assert (order.hold_compliance_rule.name, order.hold_documentation_rule.name) == (
        "Over 10",
        "Export papers",
    )
    held = Activity.objects.filter(
        action="orders.order.held_by_rule", target_id=str(order.pk)
    ).values_list("data__rule", flat=True)
    assert sorted(held) == ["Export papers", "Over 10"]


def test_a_held_order_cannot_be_processed_until_a_manager_clears_the_hold(retailer, manager):
    rule(retailer, "total_over", amount=Decimal("10"), name="Over 10")
    order = placed(retailer, manager)

    with pytest.raises(InvalidTransition, match="on hold"):
        services.order_set_status(
            order=order, status=services.lifecycle._status_in(order, "PROCESSING"), by=manager
        )
    services.order_hold_clear(order=order, flag="compliance", by=manager, reason="Checked")
    order.refresh_from_db()

    assert not order.is_held and order.hold_compliance_rule is None
    assert order.hold_compliance_why == ""


# the rules themselves


def test_a_rule_is_refused_with_every_fault_and_nothing_is_stored(retailer, admin_user):
    with pytest.raises(ValidationError) as refused:
        services.hold_rule_save(
            retailer_id=retailer.pk,
            by=admin_user,
            name="x" * 101,
            kind="compliance",
            condition="total_over",
            amount="12.345",
        )
    assert set(refused.value.message_dict) == {"name", "amount"}
    with pytest.raises(ValidationError) as refused:
        services.hold_rule_save(
            retailer_id=retailer.pk,
            by=admin_user,
            name="Abroad",
            kind="compliance",
            condition="ships_outside",
            countries="NL, Narnia",
        )
    assert "Narnia" in refused.value.message_dict["countries"][0]
    assert not HoldRule.objects.exists()


def test_only_an_admin_keeps_the_rules(retailer, manager):
    with pytest.raises(PermissionDenied):
        services.hold_rule_save(
            retailer_id=retailer.pk,
            by=manager,
            name="Over 10",
            kind="compliance",
            condition="total_over",
            amount="10",
        )


def test_an_admin_adds_edits_and_deactivates_a_rule_on_the_settings_page(
    retailer, admin_user, client_for
):
    client = client_for(admin_user)
    url = reverse("hold_rules:list")

    added = client.post(
        url,
        {
            "retailer": retailer.pk,
            "name": "New customer over 1,000",
            "kind": "compliance",
            "condition": "new_customer_over",
            "amount": "1000",
        },
    )
    new = HoldRule.objects.get(retailer=retailer)
    edited = client.post(
        reverse("hold_rules:edit", args=[new.pk]),
        {
            "name": "New customer over 2,000",
            "kind": "compliance",
            "condition": "new_customer_over",
            "amount": "2000",
        },
    )
    off = client.post(reverse("hold_rules:active", args=[new.pk]), {"active": "0"})
    page = client.get(url, {"retailer": retailer.pk}).content.decode()
    bad = client.post(
        url,
        {
            "retailer": retailer.pk,
            "name": "Broken",
            "kind": "compliance",
            "condition": "total_over",
        },
    )

    assert (added.status_code, edited.status_code, off.status_code) == (302, 302, 302)
    new.refresh_from_db()
    assert (new.name, new.amount, new.is_active) == ("New customer over 2,000", 2000, False)
    assert "New customer over 2,000" in page and "Deactivated" in page
    assert bad.status_code == 400 and "amount an order" in bad.content.decode()
    assert list(
        Activity.objects.filter(target_type="orders.holdrule")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["orders.holdrule.created", "orders.holdrule.updated", "orders.holdrule.deactivated"]


# every way an order is placed


def test_an_order_copied_from_the_order_page_is_held_by_the_rules(retailer, manager, client_for):
    source = OrderFactory(retailer=retailer, lines=1, customer=None)
    source.billing_address = AddressFactory(retailer=retailer, company="Smit BV")
    source.save(update_fields=["billing_address"])
    rule(retailer, "business_without_vat", kind="documentation", name="Business needs VAT")

    response = client_for(manager).post(reverse("orders:copy", args=[source.pk]), {"confirm": "on"})

    copy = Order.objects.get(ref=f"{source.ref}-C1")
    assert response.status_code == 302
    assert copy.hold_documentation and copy.hold_documentation_rule.name == "Business needs VAT"


def test_an_order_through_intake_is_held_by_the_rules(retailer, django_capture_on_commit_callbacks):
    rule(retailer, "new_customer_over", name="New customer over 100", amount=Decimal("100"))
    channel = IntakeChannel.objects.create(
        retailer=retailer, code="web", name="Web store", kind="webstore", secret="s3cret"
    )
    body = json.dumps(
        {
            "id": "W-1",
            "currency": retailer.currency,
            "customer": {"email": "jan@example.nl", "first_name": "Jan", "last_name": "Smit"},
            "shipping_address": {
                "street": "Oudegracht 12",
                "zip": "3511 AB",
                "city": "Utrecht",
                "country": "NL",
            },
            "lines": [{"sku": "TENT", "title": "Tent", "qty": 1, "price": "329.00"}],
            "total": "329.00",
            "payment": {"method": "ideal"},
        }
    ).encode()

    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            f"/intake/{retailer.ref}/web/",
            body,
            content_type="application/json",
            headers={"X-Signature": signature(channel.secret, body)},
        )

    order = Order.objects.get(ref="WEB-W-1")
    assert order.status.system_state == SystemState.NEW
    assert order.hold_compliance and order.hold_compliance_rule.name == "New customer over 100"


def test_the_order_page_and_the_list_say_which_rule_held_the_order(
    retailer, manager, agent, client_for
):
    rule(retailer, "total_over", name="Big basket", amount=Decimal("50"))
    order = placed(retailer, manager, total="75.00")
    client = client_for(agent)

    page = client.get(order.get_absolute_url()).content.decode()
    listing = client.get(reverse("orders:order_list")).content.decode()
    activity = client.get(reverse("orders:order_tab", args=[order.pk, "activity"])).content

    assert "Held: Compliance, by rule “Big basket”" in page
    assert "above €50.00" in page
    assert (
        'data-testid="held" title="Held: Compliance, by rule “Big basket”">Held: Compliance</div>'
        in listing
    )
    assert "by rule “Big basket”" in activity.decode()
