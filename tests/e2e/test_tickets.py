import pytest
from playwright.sync_api import Page, expect

from orders import services
from tests.e2e.test_orders import _login
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_answers_a_ticket_from_the_order_page(page: Page, live_server, agent, retailer):
    # given a customer's question on an order, sent by the storefront
    order = OrderFactory(retailer=retailer, ref="ACME-6001")
    services.ticket_customer_message(
        order=order, by=agent, subject="Gift wrapping", body="Can you gift wrap it?"
    )

    # when the agent opens the order's Tickets tab
    _login(page, live_server, "agent")
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.get_by_role("tab", name="Tickets").click()
    tickets = page.get_by_test_id("tickets")
    expect(tickets).to_contain_text("Can you gift wrap it?")

    # and a follow-up arrives while the page is open, then the agent answers it
    ticket = order.tickets.get()
    services.ticket_customer_message(
        order=order, by=agent, body="In red, please", ticket_id=ticket.pk
    )
    expect(tickets).to_contain_text("In red, please", timeout=20000)  # shown without a reload
    page.get_by_label("Answer “Gift wrapping”").fill("Of course: red paper it is.")
    page.get_by_role("button", name="Send answer").click()

    # then the answer is in the conversation and the ticket is answered
    expect(page.get_by_role("alert")).to_contain_text("Answer sent to the customer")
    expect(page.get_by_test_id("ticket")).to_contain_text("Of course: red paper it is.")
    expect(page.get_by_test_id("ticket")).to_contain_text("Answered")
