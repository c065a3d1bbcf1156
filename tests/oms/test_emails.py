import pytest
from django.core import mail

from oms import emails
from oms.models import Activity, OutboundEmail

pytestmark = pytest.mark.django_db


def _queue(retailer, **overrides):
    fields = {"to": "jane@example.com", "subject": "Your order", "body": "It has shipped."}
    return emails.email_queue(retailer=retailer, **(fields | overrides))


def test_a_queued_email_is_sent_once_the_transaction_commits(
    retailer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = _queue(retailer)
    # nothing leaves before commit
    assert mail.outbox == []
    for callback in callbacks:
        callback()

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.attempts == 1
    assert [m.subject for m in mail.outbox] == ["Your order"]
    assert mail.outbox[0].to == ["jane@example.com"]
    assert list(
        Activity.objects.filter(target_id=str(email.pk)).values_list("action", flat=True)
    ) == ["oms.email.sent", "oms.email.queued"]


def test_delivering_again_does_not_send_twice(retailer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(retailer)
    emails.email_deliver(email_id=email.pk)
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_is_retried_then_the_email_is_left_failed_with_the_error(
    retailer, settings, django_capture_on_commit_callbacks
):
    # given a mail server that refuses everything
    settings.MAILERS = {"default": {"BACKEND": "tests.oms.failing_mail.RefusingBackend"}}

    # when an email is queued, the first attempt fails but the email stays queued with the error
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(retailer)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert "Connection refused by mail server" in email.last_error

    # and each retry raises, so the worker backs off, until the last attempt gives up
    for _ in range(emails.MAX_ATTEMPTS - 2):
        with pytest.raises(ConnectionRefusedError):
            emails.email_deliver(email_id=email.pk)
    assert emails.email_deliver(email_id=email.pk) == OutboundEmail.Status.FAILED

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED
    assert email.attempts == emails.MAX_ATTEMPTS
    assert Activity.objects.filter(action="oms.email.failed", target_id=str(email.pk)).exists()
    assert mail.outbox == []


def test_the_relay_hands_stuck_emails_to_a_worker_again(retailer, settings):
    stuck = OutboundEmail.objects.create(
        retailer=retailer, to="a@example.com", subject="s", body="b"
    )
    OutboundEmail.objects.filter(pk=stuck.pk).update(created_at=stuck.created_at.replace(year=2000))

    assert emails.emails_relay() == 1

    stuck.refresh_from_db()
    assert stuck.status == OutboundEmail.Status.SENT
