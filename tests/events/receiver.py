"""A real webhook receiver for the tests: a threaded HTTP server on 127.0.0.1 that verifies every
signature with the `standardwebhooks` package, records what it accepted, and can be stopped and
brought back on the same port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    webhook_id: str
    body: dict[str, Any]


class Receiver:
    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[Received] = []
        self.bad_signatures: list[str] = []
        # Ids seen while a request with the same id was still being handled.
        self.overlaps: list[str] = []
        self.status = 200
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                webhook_id = self.headers.get("webhook-id", "")
                status = receiver.handle(webhook_id, body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def handle(self, webhook_id: str, body: str, headers: dict[str, str]) -> int:
        with self._lock:
            if webhook_id in self._in_flight:
                self.overlaps.append(webhook_id)
            self._in_flight.add(webhook_id)
        try:
            assert self.secret is not None
            try:
                Webhook(self.secret).verify(body, {k.lower(): v for k, v in headers.items()})
            except WebhookVerificationError:
                with self._lock:
                    self.bad_signatures.append(webhook_id)
                return 400
            if self.status >= 300:
                return self.status
            with self._lock:
                self.received.append(Received(webhook_id, json.loads(body)))
            return 200
        finally:
            with self._lock:
                self._in_flight.discard(webhook_id)

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def types(self) -> list[str]:
        with self._lock:
            return [str(r.body["type"]) for r in self.received]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Wait until `condition` holds, checking often; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)
