"""In the browser: a German customer's invoice is downloaded in German, and a return made on the
order page emails the customer, listed on the order."""

import io
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from billing import services as billing
from oms.models import Retailer
from orders.models import SystemState
from tests.e2e.test_orders import _login
from tests.factories import (
    AddressFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    PaymentFactory,
    recalculate_totals,
    ship,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _order(retailer, *, language: str):
    customer = CustomerFactory(
        retailer=retailer, first_name="Jonas", email="jonas@example.com", language=language
    )
    address = AddressFactory(
        retailer=retailer, customer=customer, name="Jonas Weber", city="Köln", country="DE"
    )
    order = OrderFactory(
        retailer=retailer,
        ref="ACME-6001",
        customer=customer,
        billing_address=address,
        state=SystemState.COMPLETED,
    )
    OrderLineFactory(
        order=order, sku="JKT", name="Regenjacke", quantity=2, unit_price=Decimal("121.00")
    )
    recalculate_totals(order)
    ship(order)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    return order


def test_an_agent_downloads_a_german_customers_invoice_in_german(
    page: Page, live_server, agent, manager, retailer
):
    # given a German customer's invoiced order, of a seller with a VAT number
    Retailer.objects.filter(pk=retailer.pk).update(
        legal_name="Acme Outfitters B.V.", country="NL", vat_number="NL852869327B01"
    )
    order = _order(retailer, language="de")
    invoice = billing.invoice_create(order=order, by=manager)

    # when the agent opens the Invoices tab: printing offers German first
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("tab", name="Invoices").click()
    expect(page.get_by_test_id("invoice")).to_contain_text(invoice.number)
    expect(page.get_by_label("Language", exact=True)).to_have_value("de")

    # and downloads the invoice's PDF
    href = page.get_by_test_id("invoice").get_by_role("link", name="PDF").get_attribute("href")
    response = page.context.request.get(f"{live_server.url}{href}")
    assert response.ok and response.headers["content-type"] == "application/pdf"

    # then it is a German invoice
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.body())).pages
    )
    assert f"Rechnung {invoice.number}" in text
    assert "Rechnungsadresse" in text and "Deutschland" in text
    assert "USt-IdNr.: NL852869327B01" in text and "Niederlande" in text
    assert "Gesamtbetrag" in text and "Vielen Dank für Ihren Einkauf" in text
    assert "Invoice" not in text and "Total" not in text


def test_a_return_made_on_the_order_page_emails_the_customer_and_the_email_is_listed(
    page: Page, live_server, agent, retailer
):
    order = _order(retailer, language="")

    # when the agent creates a return, leaving "Email the customer" ticked
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("link", name="Create return").first.click()
    expect(page.get_by_label("Email the customer that the return is registered")).to_be_checked()
    page.get_by_label("How many Regenjacke come back").fill("1")
    page.get_by_label("Reason for Regenjacke").select_option(label="Damaged")
    page.get_by_role("button", name="Create return").click()
    expect(page.get_by_test_id("return-status")).to_have_text("Booked")

    # then the order's activity lists the email to the customer
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("tab", name="Activity").click()
    activity = page.get_by_test_id("tab-activity")
    expect(activity).to_contain_text("We have registered your return ACM-R00001")
    expect(activity).to_contain_text("jonas@example.com")
