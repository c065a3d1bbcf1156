"""A real HTTP server on 127.0.0.1, in a thread, standing in for a retailer's system: it records
every request it receives and answers with the status codes it is told to."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request with the next code of `answers` (then `default`)."""

    server: ThreadingHTTPServer | None = None
    requests: list[Received] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)
    default: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def answer(self, *codes: int, then: int = 200) -> None:
        with self.lock:
            self.answers = deque(codes)
            self.default = then

    def next_code(self) -> int:
        with self.lock:
            return self.answers.popleft() if self.answers else self.default

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return True
            time.sleep(0.05)
        return False


def start() -> Receiver:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            code = receiver.next_code()
            receiver.requests.append(
                Received(self.path, dict(self.headers.items()), body, time.monotonic())
            )
            answer = json.dumps({"ok": 200 <= code < 300, "code": code}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    return receiver


def stop(receiver: Receiver) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()
