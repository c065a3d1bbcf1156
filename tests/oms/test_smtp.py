"""Email through Django's SMTP backend, configured as oms/settings.py configures it from the
environment, to a real SMTP server (aiosmtpd) that accepts, delays or refuses it."""

import io
import os
import re
import runpy
import smtplib
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from billing import services as billing
from oms import activity, emails
from oms.celery import app
from oms.models import Activity, OutboundEmail
from orders import services as orders
from orders.models import SystemState
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, recalculate_totals
from tests.oms.smtp_server import Credentials, Mailbox, SmtpServer
from tests.test_worker import _database_url, queues, start_worker, stop, wait_until_ready

pytestmark = [
    pytest.mark.django_db,
    # a local test server has no certificate; AUTH without TLS is what it can offer
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
SMTP = "django.core.mail.backends.smtp.EmailBackend"
FROM = "Acme Outfitters <orders@acme.example>"
EMAIL_ENV = (
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
)


def mailers_from_env(monkeypatch, **env: str) -> dict:
    """MAILERS as oms/settings.py builds them from these environment variables alone."""
    for name in EMAIL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "oms" / "settings.py"))["MAILERS"]


def server_env(server: SmtpServer, **more: str) -> dict[str, str]:
    """The environment an operator sets for a mail server on a trusted network (no TLS)."""
    return {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": server.host,
        "EMAIL_PORT": str(server.port),
        "EMAIL_USE_TLS": "false",
        **more,
    }


@pytest.fixture
def mailbox():
    return Mailbox()


@pytest.fixture
def server(mailbox):
    server = SmtpServer(mailbox)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def send_through(settings, monkeypatch):
    """Point the app's mail at `server`, the way the environment does in production."""

    def use(server: SmtpServer, **env: str) -> None:
        settings.MAILERS = mailers_from_env(monkeypatch, **server_env(server, **env))
        settings.DEFAULT_FROM_EMAIL = FROM

    return use


@pytest.fixture
def order(retailer):
    customer = CustomerFactory(
        retailer=retailer, first_name="Zoë", last_name="Brontë", email="zoe@example.com"
    )
    order = OrderFactory(
        retailer=retailer, customer=customer, ref="ACME-900", state=SystemState.PROCESSING
    )
    OrderLineFactory(
        order=order, sku="JKT-M", name="Shell jacket", quantity=2, unit_price=Decimal("100.00")
    )
    return recalculate_totals(order, shipping=Decimal("4.95"))


def _notify(order, agent, callbacks, message="Your jacket ships on Tuesday.") -> OutboundEmail:
    with callbacks(execute=True):
        email = orders.order_notify_customer(order=order, by=agent, message=message)
    email.refresh_from_db()
    return email


def _actions(email: OutboundEmail) -> list[str]:
    return list(
        Activity.objects.filter(target_id=str(email.pk), action__startswith="oms.email.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


# the message as it arrives


def test_an_invoice_arrives_with_its_pdf_and_the_headers_of_its_email(
    server, mailbox, send_through, order, agent, manager, django_capture_on_commit_callbacks
):
    # given the app mailing through a real SMTP server, and an invoice for the order
    send_through(server)
    invoice = billing.invoice_create(order=order, by=manager)

    # when an agent emails the invoice and the request commits
    with django_capture_on_commit_callbacks(execute=True):
        email = billing.invoice_resend(invoice=invoice, by=agent)

    # then the server accepted one message for the customer, sent from the shop's address
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (OutboundEmail.Status.SENT, 1, "")
    (delivery,) = mailbox.delivered
    assert delivery.mail_from == "orders@acme.example"
    assert delivery.rcpt_tos == ("zoe@example.com",)
    message = delivery.message
    assert message["From"] == FROM
    assert message["To"] == "zoe@example.com"
    assert message["Subject"] == f"Invoice {invoice.number} for your order ACME-900"
    # the Message-ID is the email's own (the same on a retry), on the sender's domain
    assert message["Message-ID"] == emails.message_id(email)
    assert re.fullmatch(r"<[0-9a-f]{32}@acme\.example>", message["Message-ID"])
    assert abs(message["Date"].datetime - timezone.now()) < timedelta(hours=1)
    # a text part with the body the app wrote, and the invoice as a PDF attachment; no HTML
    assert message.get_content_type() == "multipart/mixed"
    text, pdf = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "utf-8"
    assert "Dear Zoë," in text.get_content()
    assert f"Please find attached invoice {invoice.number}" in text.get_content()
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == f"{invoice.number}.pdf"
    assert pdf.get_content_type() == "application/pdf"
    content = pdf.get_content()
    assert content.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(content)).pages
    assert f"Invoice {invoice.number}" in "\n".join(page.extract_text() for page in pages)
    assert "text/html" not in {part.get_content_type() for part in message.walk()}
    assert _actions(email) == ["oms.email.queued", "oms.email.sent"]


def test_a_message_to_the_customer_arrives_as_written_in_plain_text(
    server, mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given the app mailing through a real SMTP server
    send_through(server)

    # when an agent writes to the customer, with characters beyond ASCII
    email = _notify(
        order, agent, django_capture_on_commit_callbacks, message="Zoë, your jacket — €199 — ships."
    )

    # then one text message arrives, its words intact
    assert email.status == OutboundEmail.Status.SENT
    (delivery,) = mailbox.delivered
    message = delivery.message
    assert message["Subject"] == "A message about your order ACME-900"
    assert message.get_content_type() == "text/plain"
    assert not message.is_multipart()
    body = message.get_content()
    assert "Dear Zoë," in body
    assert "Zoë, your jacket — €199 — ships." in body
    assert "Your order: ACME-900" in body
    assert message["Message-ID"] == emails.message_id(email)


# refusals


def test_a_server_that_asks_to_try_again_gets_the_same_message_until_it_takes_it_once(
    server, mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given a server that answers "try again later" twice (451, then 421 and hanging up)
    send_through(server)
    mailbox.refuse_next("451 4.3.0 Mailbox busy, try again later", "421 4.7.0 Too many connections")

    # when the email is queued, the first attempt is refused and the email waits with the error
    email = _notify(order, agent, django_capture_on_commit_callbacks)
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert "451" in email.last_error
    assert "Mailbox busy" in email.last_error

    # and the retry the worker makes is refused too, raised so the worker backs off
    with pytest.raises(smtplib.SMTPDataError):
        emails.email_deliver(email_id=email.pk)

    # when the server takes it at the third attempt
    assert emails.email_deliver(email_id=email.pk) == OutboundEmail.Status.SENT

    # then it arrived once, was sent three times with one Message-ID, and says so
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (OutboundEmail.Status.SENT, 3, "")
    assert len(mailbox.delivered) == 1
    assert [m["Message-ID"] for m in mailbox.attempts] == [emails.message_id(email)] * 3
    assert _actions(email) == ["oms.email.queued", "oms.email.sent"]

    # and a late duplicate of the task sends nothing more
    assert emails.email_deliver(email_id=email.pk) == OutboundEmail.Status.SENT
    assert len(mailbox.delivered) == 1


def test_an_email_queued_while_the_server_is_down_is_sent_by_the_relay_once_it_is_up(
    mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given a mail server that is down
    server = SmtpServer(mailbox)
    send_through(server)
    try:
        # when an email is queued, it waits with the connection error
        email = _notify(order, agent, django_capture_on_commit_callbacks)
        assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
        assert "ConnectionRefusedError" in email.last_error

        # when the server is up and the relay (beat, every 5 minutes) hands it to a worker
        server.start()
        assert emails.emails_relay(older_than=timedelta(0)) == 1

        # then it is sent once, at the second attempt
        email.refresh_from_db()
        assert (email.status, email.attempts) == (OutboundEmail.Status.SENT, 2)
        assert len(mailbox.delivered) == 1
        assert emails.emails_relay(older_than=timedelta(0)) == 0
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("refuse", "reply"),
    [
        (lambda mailbox: mailbox.unknown.add("zoe@example.com"), "550"),
        (lambda mailbox: mailbox.refuse_next("554 5.7.1 Message rejected as spam"), "554"),
    ],
    ids=["unknown-recipient", "message-rejected"],
)
def test_a_permanent_refusal_fails_the_email_at_once_and_the_order_timeline_says_why(
    refuse, reply, server, mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given a server that refuses the recipient or the message for good (5xx)
    send_through(server)
    refuse(mailbox)

    # when the email is sent
    email = _notify(order, agent, django_capture_on_commit_callbacks)

    # then it is failed after that one attempt, with the server's reply
    assert (email.status, email.attempts) == (OutboundEmail.Status.FAILED, 1)
    assert reply in email.last_error
    assert mailbox.delivered == []
    (refused,) = Activity.objects.filter(target_id=str(email.pk), action="oms.email.refused")
    assert (refused.root_type, refused.root_id) == ("orders.order", str(order.pk))
    line = activity.describe(refused)
    assert "A message about your order ACME-900" in line
    assert "zoe@example.com refused by the mail server" in line
    assert reply in line

    # and a late duplicate of the task does not try again
    tried = len(mailbox.attempts)
    assert emails.email_deliver(email_id=email.pk) == OutboundEmail.Status.FAILED
    email.refresh_from_db()
    assert email.attempts == 1
    assert len(mailbox.attempts) == tried


# authentication


def test_the_app_logs_in_with_the_configured_user(
    mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given a server that takes mail only after AUTH
    server = SmtpServer(mailbox, Credentials("mailer", "s3cret-pass"))
    server.start()
    try:
        send_through(server, EMAIL_HOST_USER="mailer", EMAIL_HOST_PASSWORD="s3cret-pass")

        # when an email is sent
        email = _notify(order, agent, django_capture_on_commit_callbacks)
    finally:
        server.stop()

    # then the server took it from the configured user
    assert email.status == OutboundEmail.Status.SENT
    (delivery,) = mailbox.delivered
    assert delivery.login == "mailer"


@pytest.mark.parametrize(
    ("credentials", "error"),
    [
        ({"EMAIL_HOST_USER": "mailer", "EMAIL_HOST_PASSWORD": "wrong"}, "535"),
        ({}, "530"),
    ],
    ids=["wrong-password", "no-credentials"],
)
def test_a_refused_login_leaves_the_email_queued_for_a_fixed_configuration(
    credentials, error, mailbox, send_through, order, agent, django_capture_on_commit_callbacks
):
    # given a server that takes mail only after AUTH, and a wrong or missing login
    server = SmtpServer(mailbox, Credentials("mailer", "s3cret-pass"))
    server.start()
    try:
        send_through(server, **credentials)

        # when an email is sent
        email = _notify(order, agent, django_capture_on_commit_callbacks)
    finally:
        server.stop()

    # then it is not sent, and waits for the retries (the configuration, not the email, is wrong)
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert error in email.last_error
    assert mailbox.delivered == []


# the settings


def test_the_settings_offer_starttls_by_default_and_implicit_tls_on_request(monkeypatch, settings):
    starttls = mailers_from_env(monkeypatch, EMAIL_BACKEND=SMTP, EMAIL_HOST="smtp.example.com")
    options = starttls["default"]["OPTIONS"]
    assert (options["host"], options["port"], options["use_tls"], options["use_ssl"]) == (
        "smtp.example.com",
        587,
        True,
        False,
    )

    implicit = mailers_from_env(
        monkeypatch, EMAIL_BACKEND=SMTP, EMAIL_HOST="smtp.example.com", EMAIL_USE_SSL="true"
    )
    options = implicit["default"]["OPTIONS"]
    assert (options["port"], options["use_tls"], options["use_ssl"]) == (465, False, True)

    # and the mailer is built from them without complaint (TLS and SSL are exclusive)
    settings.MAILERS = implicit
    backend = mail.mailers["default"]
    assert (backend.host, backend.port, backend.use_ssl, backend.use_tls) == (
        "smtp.example.com",
        465,
        True,
        False,
    )


# through a real worker


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_an_email_the_server_delayed_and_sends_it_once(
    tmp_path, celery_broker, server, mailbox, retailer
):
    # given a Celery worker mailing through a server that answers the first attempt with 451
    mailbox.refuse_next("451 4.3.0 Greylisted, try again later")
    broker = celery_broker()
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    env = os.environ | server_env(server, DEFAULT_FROM_EMAIL=FROM)
    env |= {"DATABASE_URL": _database_url(), "REDIS_URL": broker}
    log = tmp_path / "worker.log"
    process = start_worker(log, env, queues=queues(), hostname="mail@%h")
    try:
        wait_until_ready([process], [log])

        # when an email is queued in a committed transaction
        email = emails.email_queue(
            retailer=retailer, to="jane@example.com", subject="Order ACME-1 shipped", body="Soon."
        )

        # then the worker backs off (30 s), tries again and the email is sent
        sent = _wait_for(
            lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SENT,
            timeout=180,
        )
    finally:
        stop([process])
    assert sent, log.read_text()
    email.refresh_from_db()
    assert (email.attempts, email.last_error) == (2, "")
    (delivery,) = mailbox.delivered
    assert delivery.message["Subject"] == "Order ACME-1 shipped"
    assert len(mailbox.attempts) == 2
    assert mailbox.attempts[0]["Message-ID"] == mailbox.attempts[1]["Message-ID"]
    assert "Retry in 30s" in log.read_text()
