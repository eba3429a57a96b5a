"""The HTTP edge of the read path.

- `Observe`: request id (X-Request-ID accepted or made, echoed back), metrics per route and
  status, one JSON access log line per request.
- `FastPath`: answers the two hottest requests (`GET /v1/models` without parameters and
  `GET /v1/models/{id}`) straight from the snapshot's pre-rendered bytes, with ETag/304; every
  other request goes on to the FastAPI app, which renders the same bytes from the same snapshot.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg.logs import request_id_var
from modelreg.snapshot import metrics
from modelreg.snapshot.catalog import Rendered
from modelreg.snapshot.store import SnapshotStore

REQUEST_ID = b"x-request-id"
LIST_ROUTE = "/v1/models"
MODEL_ROUTE = "/v1/models/{model_id}"
MODEL_PREFIX = "/v1/models/"

access_log = logging.getLogger("modelreg.access")


class Observe:
    def __init__(self, app: ASGIApp, *, log_requests: bool = True):
        self.app = app
        self.log_requests = log_requests
        # Metric children by label values: `labels()` costs more than the increment itself.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = b""
        for name, value in scope["headers"]:
            if name == REQUEST_ID:
                given = value[:200]
                break
        request_id = given.decode("latin-1") if given else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        encoded = request_id.encode("latin-1")
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID, encoded)]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("modelreg.route")
            if route is None:
                matched = scope.get("route")
                route = getattr(matched, "path", None) or "unmatched"
            method = scope["method"]
            counter = self._counters.get((method, route, status))
            if counter is None:
                counter = metrics.REQUESTS.labels(method, route, str(status))
                self._counters[(method, route, status)] = counter
            counter.inc()
            timer = self._timers.get((method, route))
            if timer is None:
                timer = self._timers[(method, route)] = metrics.LATENCY.labels(method, route)
            timer.observe(elapsed)
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id_var.reset(token)


class FastPath:
    def __init__(self, app: ASGIApp, store: SnapshotStore, *, enabled: bool = True):
        self.app = app
        self.store = store
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self.store.current
        if (
            self.enabled
            and snapshot is not None
            and scope["type"] == "http"
            and scope["method"] == "GET"
        ):
            path: str = scope["path"]
            query: bytes = scope["query_string"]
            rendered: Rendered | None = None
            if path == LIST_ROUTE:
                if not query:
                    rendered = snapshot.list_all
                else:
                    cached = snapshot.cached(query)
                    rendered = Rendered(cached) if cached is not None else None
                if rendered is not None:
                    scope["modelreg.route"] = LIST_ROUTE
            elif (
                not query and path.startswith(MODEL_PREFIX) and "/" not in path[len(MODEL_PREFIX) :]
            ):
                rendered = snapshot.models.get(path[len(MODEL_PREFIX) :])
                if rendered is not None:
                    scope["modelreg.route"] = MODEL_ROUTE
            if rendered is not None:
                await _respond(scope, send, rendered, snapshot.etag)
                return
        await self.app(scope, receive, send)


async def _respond(scope: Scope, send: Send, rendered: Rendered, etag: bytes) -> None:
    for name, value in scope["headers"]:
        if name == b"if-none-match" and etag in value:
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(rendered.body)).encode()),
        (b"etag", etag),
        *rendered.headers,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": rendered.body})
