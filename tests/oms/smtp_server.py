"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, whose replies a test scripts."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Delivery:
    """One message the server accepted: its envelope, who logged in, and the message itself."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    login: str | None
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


class Mailbox:
    """The server's handler: keeps what it accepts, and answers with scripted refusals first."""

    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.attempts: list[EmailMessage] = []  # every message sent to it, refused or not
        self.unknown: set[str] = set()  # recipients refused with 550, as a server does
        self._replies: deque[str] = deque()
        self._lock = threading.Lock()

    def refuse_next(self, *replies: str) -> None:
        """Answer the next messages with these replies (e.g. "451 4.3.0 Try again later")."""
        with self._lock:
            self._replies.extend(replies)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = bytes(envelope.content)
        with self._lock:
            self.attempts.append(email.message_from_bytes(raw, policy=email.policy.default))
            if self._replies:
                return self._replies.popleft()
            login = session.auth_data.login.decode() if session.authenticated else None
            self.delivered.append(
                Delivery(envelope.mail_from, tuple(envelope.rcpt_tos), login, raw)
            )
        return "250 2.0.0 Message accepted for delivery"


class Credentials:
    """An authenticator taking one user name and password (AUTH PLAIN or LOGIN)."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            (auth_data.login, auth_data.password) == (self.username, self.password)
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """An SMTP server on a free port of 127.0.0.1, started and stopped by the test.

    With `credentials` it requires AUTH before mail, offered without TLS (a local test server
    has no certificate; a real one gets STARTTLS or implicit TLS)."""

    host = "127.0.0.1"

    def __init__(self, mailbox: Mailbox, credentials: Credentials | None = None) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        auth = (
            {"authenticator": credentials, "auth_required": True, "auth_require_tls": False}
            if credentials
            else {}
        )
        self._controller = Controller(
            mailbox, hostname=self.host, port=self.port, ready_timeout=30, **auth
        )
        self.running = False

    def start(self) -> None:
        self._controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._controller.stop()
            self.running = False
