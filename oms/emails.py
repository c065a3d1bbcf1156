"""Outgoing email: queued with the change that causes it, sent by a worker after commit."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.encoding import punycode

from oms import activity, bounds, locking
from oms.models import OutboundEmail, Retailer
from oms.tasks import enqueue_on_commit, send_email

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = OutboundEmail.MAX_ATTEMPTS

# kind -> function(id) returning (filename, content, mimetype); apps register their documents.
_ATTACHMENTS: dict[str, Callable[[int], tuple[str, bytes, str]]] = {}


def register_attachment(kind: str, render: Callable[[int], tuple[str, bytes, str]]) -> None:
    """Let emails carry a document of `kind` (such as an invoice PDF), rendered when sent."""
    _ATTACHMENTS[kind] = render


def email_render(
    template: str, context: dict, *, language: str, time_zone: str | None = None
) -> tuple[str, str]:
    """Subject and body of an email template whose first line is `Subject: ...`, written in
    `language` (dates, months and money too), its times in `time_zone`."""
    with (
        translation.override(language),
        timezone.override(time_zone or timezone.get_current_timezone()),
    ):
        text = render_to_string(template, context).lstrip()
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"{template} must start with a Subject: line")
    return " ".join(first.removeprefix("Subject:").split()), body.strip() + "\n"


@transaction.atomic
def email_queue(
    *,
    retailer: Retailer,
    to: str,
    subject: str,
    body: str,
    about: models.Model | None = None,
    by=None,
    attachment: str = "",
) -> OutboundEmail:
    """Queue an email in the caller's transaction; it is handed to a worker once that commits.

    The address and the subject go into mail headers: one that could never be sent (a line
    break, not an address) is refused here, so nobody is told "sent" for an email that fails
    later in the worker."""
    try:
        to = bounds.check_email(to)
    except ValidationError as error:
        raise ValidationError(
            {"to": f"Cannot email {to[:60]!r}: {' '.join(error.messages)}"}
        ) from None
    try:
        subject = bounds.check_text(bounds.check_header(subject), OutboundEmail, "subject")
    except ValidationError as error:
        raise ValidationError({"subject": f"Email subject: {' '.join(error.messages)}"}) from None
    email = OutboundEmail.objects.create(
        retailer=retailer,
        to=to,
        subject=subject,
        body=body,
        attachment=attachment,
        root_type=activity.RecordRef.of(about).label if about is not None else "",
        root_id=activity.RecordRef.of(about).pk if about is not None else "",
    )
    activity.record(
        action="oms.email.queued",
        target=email,
        root=about,
        by=by,
        data={"to": to, "subject": subject},
    )
    enqueue_on_commit(send_email, email.pk, retailer_id=email.retailer_id)
    return email


def email_deliver(*, email_id: int) -> OutboundEmail.Status:
    """Send one queued email, once. Safe to call again: a sent email is not sent twice.

    A failed attempt is recorded on the email (attempts, last error) and its error raised, so the
    task can retry; after the last attempt the email is left FAILED and nothing is raised. A
    refusal the mail server gives as final (a 5xx reply to the recipient or the message) leaves it
    FAILED at once: sending the same message again gets the same answer.

    Every attempt carries the same Message-ID, so an attempt that reached the mailbox although
    its reply was lost is recognised there as the same message.
    """
    error: Exception | None = None
    with transaction.atomic():
        email = locking.lock(OutboundEmail(pk=email_id))
        if email.status != OutboundEmail.Status.QUEUED:
            return OutboundEmail.Status(email.status)
        email.attempts += 1
        try:
            message = EmailMessage(
                subject=email.subject,
                body=email.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[email.to],
                headers={"Message-ID": message_id(email)},
            )
            if email.attachment:
                kind, _, pk = email.attachment.partition(":")
                message.attach(*_ATTACHMENTS[kind](int(pk)))
            message.send()
        except Exception as exc:
            error = exc
            email.last_error = f"{type(exc).__name__}: {exc}"
            refused = _refused_for_good(exc)
            if refused or email.attempts >= MAX_ATTEMPTS:
                email.status = OutboundEmail.Status.FAILED
                activity.record(
                    action="oms.email.refused" if refused else "oms.email.failed",
                    target=email,
                    root=_root_of(email),
                    by=None,
                    data={"to": email.to, "subject": email.subject, "error": email.last_error}
                    if refused
                    else {"error": email.last_error, "attempts": email.attempts},
                )
            email.save(update_fields=["attempts", "last_error", "status"])
        else:
            email.status = OutboundEmail.Status.SENT
            email.sent_at = timezone.now()
            email.last_error = ""
            email.save(update_fields=["attempts", "last_error", "status", "sent_at"])
            activity.record(
                action="oms.email.sent",
                target=email,
                root=_root_of(email),
                by=None,
                data={"to": email.to, "subject": email.subject},
            )
    if error is not None and email.status == OutboundEmail.Status.QUEUED:
        logger.warning("Email %s not sent (attempt %s): %s", email.pk, email.attempts, error)
        raise error
    return OutboundEmail.Status(email.status)


def emails_relay(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Hand emails still queued after `older_than` to a worker again. Returns how many."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboundEmail.objects.filter(
            status=OutboundEmail.Status.QUEUED, created_at__lt=cutoff
        ).values_list("pk", "retailer_id")[:500]
    )
    for email_id, retailer_id in ids:
        send_email.delay(email_id, retailer_id=retailer_id)
    return len(ids)


def message_id(email: OutboundEmail) -> str:
    """The Message-ID header of `email`, the same on every attempt; it reveals no ids."""
    token = salted_hmac(
        "oms.emails.message_id", f"{email.pk}:{email.created_at.isoformat()}", algorithm="sha256"
    )
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<{token.hexdigest()[:32]}@{punycode(domain)}>"


def _refused_for_good(error: Exception) -> bool:
    """Whether the mail server refused the recipient or the message with a permanent (5xx)
    reply. A refused sender or login is left to the retries: it is the configuration, not this
    email, and a fixed configuration should still deliver it."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPDataError):
        return 500 <= error.smtp_code < 600
    return False


def _root_of(email: OutboundEmail) -> activity.RecordRef | OutboundEmail:
    return activity.RecordRef(email.root_type, email.root_id) if email.root_type else email
