"""The HTTP edge of the read path, in front of the FastAPI application.

Every request gets a request id (X-Request-ID accepted or made, echoed back), is counted and
timed per route template and status, and is logged as one JSON line. The two hottest requests
(`GET /v1/models` without parameters, or with parameters already rendered in this snapshot, and
`GET /v1/models/{id}`) are answered right here from the snapshot's bytes, with ETag and 304;
everything else goes on to FastAPI, which renders the same bytes from the same snapshot.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg import metrics
from modelreg.batching import Batch
from modelreg.logs import AccessLog, AccessRecord, json_text, request_id_var
from modelreg.public.snapshot import VARY, Encoded, Rendered, Snapshot
from modelreg.public.store import SnapshotStore
from modelreg.responses import none_match

REQUEST_ID = b"x-request-id"
IF_NONE_MATCH = b"if-none-match"
ACCEPT_ENCODING = b"accept-encoding"
LIST_ROUTE = "/v1/models"
MODEL_ROUTE = "/v1/models/{model_id}"
EXPORT_PREFIX = "/v1/export/"  # rendered by public.exports on first use, then sent from here

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# The last three hex digits of a request id, as bytes and as text, in four runs of 1,024, each
# in reverse order (ids are taken from the end of a list).
_LOW_DIGITS = tuple(
    tuple((b"%03x" % low, f"{low:03x}") for low in reversed(range(start, start + 1024)))
    for start in range(0, 4096, 1024)
)


class _RequestIds:
    """Request ids: a random prefix per process and a counter, as 32 hex digits, in bytes (for
    the header) and in text (for the access log). Cheaper than random bytes from the kernel for
    every request: ids are made 1,024 at a time (the counter's upper digits joined to its last
    three) into `waiting`, from whose end the next one is popped. The prefix is drawn again in a
    forked child, so processes forked from one loaded application do not share ids."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.waiting: list[tuple[bytes, str]] = []
        self._runs = self._counted(os.urandom(8).hex().encode())

    def next(self) -> tuple[bytes, str]:
        """The next id: a pop, and once in 1,024 ids the next run made first."""
        try:
            return self.waiting.pop()
        except IndexError:
            self.waiting = next(self._runs)
            return self.waiting.pop()

    @staticmethod
    def _counted(prefix: bytes) -> Iterator[list[tuple[bytes, str]]]:
        for high in itertools.count():
            upper = b"%b%013x" % (prefix, high)
            upper_text = upper.decode()
            for run in _LOW_DIGITS:
                yield [(upper + low, upper_text + low_text) for low, low_text in run]


_ids = _RequestIds()


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        store: SnapshotStore,
        *,
        fast_path: bool = True,
        access_log: AccessLog | None = None,
        max_header_bytes: int = 32_768,
    ):
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.store = store
        self.fast_path = fast_path
        self.access_log = access_log
        # Every request's record (AccessRecord), counted in the latency series and written to
        # the access log a batch at a time.
        self.finished: Batch[AccessRecord] = Batch(self._settle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        given = b""
        if_none_match = None
        accept_encoding = None
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == REQUEST_ID:
                given = value[:200]
            elif name == IF_NONE_MATCH:  # repeated header lines make one list (RFC 9110 5.3)
                if_none_match = value if if_none_match is None else if_none_match + b", " + value
            elif name == ACCEPT_ENCODING:
                accept_encoding = (
                    value if accept_encoding is None else accept_encoding + b", " + value
                )
        if given:
            encoded, logged = given, json_text(given.decode("latin-1"))
        else:
            encoded, logged = _ids.next()
        method = scope["method"]
        # Before any answer, the fast path's included: the limit is the same for every request.
        if header_bytes > self.max_header_bytes:
            await _too_large_headers(send, encoded, self.max_header_bytes)
            self._observe(_label(method), "unmatched", 431, started, scope["path"], logged)
            return

        snapshot = self.store.current
        if snapshot is not None and snapshot.view.next_boundary is not None:
            snapshot = self.store.fresh()  # priced again if a scheduled price change has come
        if self.fast_path and snapshot is not None and (method == "GET" or method == "HEAD"):
            path = scope["path"]
            query = scope["query_string"]
            # The most frequent request of all, a model by id, found without a call.
            rendered = None if query else snapshot.by_path.get(path)
            if rendered is not None:
                route = MODEL_ROUTE
            else:
                route, rendered = _lookup(snapshot, path, query)
            if rendered is not None:
                sent: Encoded | Rendered = rendered
                etag = snapshot.etag
                if (
                    accept_encoding is not None
                    and rendered.compressible
                    and accepts_gzip(accept_encoding)
                ):
                    packed = rendered.gzipped()  # None until a worker thread has made it
                    if packed is not None or (
                        if_none_match is not None and none_match(snapshot.etag_gzip, if_none_match)
                    ):
                        sent, etag = packed or rendered, snapshot.etag_gzip
                if if_none_match is not None and none_match(etag, if_none_match):
                    status = await _not_modified(send, etag, encoded, vary=rendered.compressible)
                else:
                    status = 200
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [*sent.head, (b"etag", etag), (REQUEST_ID, encoded)],
                        }
                    )
                    body = b"" if method == "HEAD" else sent.body
                    await send({"type": "http.response.body", "body": body})
                self._observe(method, route, status, started, path, logged)
                return

        head = method == "HEAD"
        if head:  # answered as GET is, without the body (RFC 9110 9.3.2)
            scope["method"] = "GET"

        request_id = encoded.decode("latin-1")
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID, encoded)]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            matched = scope.get("route")
            route = getattr(matched, "path", None) or "unmatched"
            self._observe(_label(method), route, status, started, scope["path"], logged)
            request_id_var.reset(token)

    def _observe(
        self, method: str, route: str, status: int, started: float, path: str, logged_id: str
    ) -> None:
        """Record the request, to be counted, timed and logged with its batch (`logged_id`: its
        id as `json_text` gives it)."""
        ended = perf_counter()
        self.finished.add((method, route, status, ended - started, ended, path, logged_id))

    def _settle(self, records: list[AccessRecord]) -> None:
        metrics.REQUEST_STATS.observe_many(records)
        if self.access_log is not None:
            self.access_log.write(records)

    def flush(self) -> None:
        """Count and log every request answered so far (before /metrics answers, at shutdown)."""
        self.finished.flush()


def _label(method: str) -> str:
    return method if method in METHODS else "other"  # a bounded label


async def _too_large_headers(send: Send, request_id: bytes, limit: int) -> None:
    body = (
        b'{"type":"about:blank","title":"Request Header Fields Too Large","status":431,'
        b'"code":"headers_too_large","detail":"the request headers are larger than '
        + str(limit).encode()
        + b' bytes"}'
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (REQUEST_ID, request_id),
    ]
    await send({"type": "http.response.start", "status": 431, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _lookup(snapshot: Snapshot, path: str, query: bytes) -> tuple[str, Rendered | None]:
    """The route and what the fast path answers for what is not a model by id (the edge looks
    those up itself): the list (a filtered list once rendered), an export once rendered; None:
    FastAPI answers."""
    if not query:
        if path == LIST_ROUTE:
            return LIST_ROUTE, snapshot.list_all
        if path.startswith(EXPORT_PREFIX):
            return path, snapshot.exports.get(path)
    elif path == LIST_ROUTE:
        return LIST_ROUTE, snapshot.cached(query)
    return path, None


async def _not_modified(send: Send, etag: bytes, request_id: bytes, *, vary: bool) -> int:
    headers = [(b"etag", etag), (REQUEST_ID, request_id)]
    if vary:
        headers.append(VARY)
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return 304


# Accept-Encoding values seen, and whether they accept gzip: clients send the same few.
_accepts: dict[bytes, bool] = {}


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an Accept-Encoding header admits gzip (RFC 9110 12.5.3: by name or by `*`, with
    a q-value above 0)."""
    known = _accepts.get(accept_encoding)
    if known is None:
        known = _parse_accepts_gzip(accept_encoding.decode("latin-1"))
        if len(_accepts) < 256 and len(accept_encoding) <= 100:
            _accepts[accept_encoding] = known
    return known


def _parse_accepts_gzip(value: str) -> bool:
    named: float | None = None
    star: float | None = None
    for item in value.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params:
            key, _, number = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(number.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            named = q
        elif coding == "*":
            star = q
    q_value = named if named is not None else star
    return q_value is not None and q_value > 0
