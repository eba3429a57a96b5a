"""Structured logs: one JSON object per line on stderr, with the request id when there is one."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import functools
import json
import logging
import logging.config
import os
import stat
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii
from typing import Any, TextIO

from prometheus_client import Counter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    # uvicorn's copy of the message with ANSI colour codes, for its own console formatter.
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(level: str = "INFO") -> dict[str, Any]:
    """The logging set-up of a serving process, for `logging.config.dictConfig`: JSON lines on
    stderr, the HTTP server's own loggers (uvicorn's, granian's) through them, its access log
    off (modelreg writes its own). The server applies it in every worker process it starts,
    too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            "_granian": {"handlers": [], "propagate": True},
            "granian.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(level))


ACCESS_LOGGER = "modelreg.access"
ACCESS_LOG_DROPPED = Counter(
    "modelreg_access_log_dropped_lines_total",
    "Access-log lines dropped because the log stream could not be written.",
)
# A str as a JSON string, as json.dumps writes it (the C encoder).
_json_string: Callable[[str], str] = encode_basestring_ascii


def json_text(value: str) -> str:
    """`value` as it stands between the quotes of a JSON string (escaped, ASCII only)."""
    return _json_string(value)[1:-1]


class AccessLog:
    """The access log: one JSON line per request, written in batches.

    Each line has the shape `JsonFormatter` gives every other line (ts, level, logger, msg,
    request_id, then method, path, status, duration_ms), but is formatted here directly: through
    `logging`, a line cost about 11 us, half of what answering a request from the snapshot costs.
    A request only records its values (`write`); the lines of a batch are formatted together,
    in one `%` over the batch, when it is written: every `interval_s`, as soon as `max_lines`
    wait, at shutdown (`flush`) and at exit. A process that is killed loses at most the last
    interval's lines. The parts of a line that repeat (the time to the millisecond, the fields
    of a path already seen) are formatted once. Writes to a pipe or socket are split into pieces
    of at most `CHUNK` bytes that end with a line, so that processes sharing one pipe do not
    interleave within a line (to a regular file, a batch is one write). A stream that fails (a
    closed pipe, say) drops the batch and counts it in `modelreg_access_log_dropped_lines_total`;
    requests never see the error.

    The lines go to stderr (or `stream`) whatever handlers logging has: on when
    `MODELREG_LOG_REQUESTS` is true and the `modelreg.access` logger is enabled for INFO when a
    batch is written, so logging's configuration can still silence it. Used from one event
    loop's thread at a time.
    """

    CHUNK = 4096  # PIPE_BUF on Linux: a write this size to a pipe is not split
    CACHED_FIELDS = 1024  # (method, path, status) whose escaped fields are kept
    # One line: its start to the request id, the id, the fields, the duration.
    LINE = '%s"%s"%s%.3f}\n'

    def __init__(
        self, stream: TextIO | None = None, *, interval_s: float = 0.1, max_lines: int = 256
    ) -> None:
        self.stream = stream  # None: sys.stderr as it is when the lines are written
        self.interval_s = interval_s
        self.max_lines = max_lines
        self.dropped = 0
        self._logger = logging.getLogger(ACCESS_LOGGER)
        # What each waiting line holds: time.time_ns(), method, path, status, duration_ms,
        # request id.
        self._records: list[tuple[int, str, str, int, float, str]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._due = -1  # time.time_ns() when the pending flush is overdue; -1: none is pending
        self._fields: dict[tuple[str, str, int], str] = {}
        _ACCESS_LOGS.add(self)

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def write(
        self, method: str, path: str, status: int, duration_ms: float, request_id: str
    ) -> None:
        """Record one request's line (formatted with its batch). `request_id` as it stands
        between the quotes of a JSON string (`json_text`): the edge's own ids are already."""
        now = time.time_ns()
        records = self._records
        records.append((now, method, path, status, duration_ms, request_id))
        if len(records) >= self.max_lines:
            self.flush()
        elif now > self._due or self._timer_loop is None or self._timer_loop.is_closed():
            # The batch's first line, or its flush cannot come: the loop that was to run it is
            # closed (each of a test client's requests can run in a loop of its own) or late.
            self._schedule(now)

    def _schedule(self, now: int) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop to flush later from
            return
        self._due = now + int(2e9 * self.interval_s)
        if self._timer is not None and self._timer_loop is loop:
            return  # a flush is pending on this loop
        # None pending, or pending on another loop, which may close before it fires.
        self._timer = loop.call_later(self.interval_s, self.flush)
        self._timer_loop = loop

    def flush(self) -> None:
        self._timer = None
        self._due = -1
        if not self._records:
            return
        records, self._records = self._records, []
        if not self.enabled:  # silenced through logging (asked once a batch, not per request)
            return
        stream = self.stream if self.stream is not None else sys.stderr
        text = self._format(records)
        written = 0  # characters
        try:
            for piece in _pieces(text, _piece_limit(stream, self.CHUNK)):
                stream.write(piece)
                stream.flush()
                written += len(piece)
        except (OSError, ValueError):
            lost = len(records) - text.count("\n", 0, written)
            self.dropped += lost
            ACCESS_LOG_DROPPED.inc(lost)

    def _format(self, records: list[tuple[int, str, str, int, float, str]]) -> str:
        """The lines of `records`, in one `%` over all of them."""
        values: list[object] = []
        add = values.extend
        fields_of = self._fields.get
        ms, head = -1, ""
        for now, method, path, status, duration_ms, request_id in records:
            moment = now // 1_000_000
            if moment != ms:  # the line's start changes once a millisecond at most
                ms, head = moment, _line_head(moment)
            # A server answers the same few paths again and again: their fields are escaped once.
            fields = fields_of((method, path, status)) or self._fields_for(method, path, status)
            add((head, request_id, fields, duration_ms))
        return (self.LINE * len(records)) % tuple(values)

    def _fields_for(self, method: str, path: str, status: int) -> str:
        fields = (
            f', "method": {_json_string(method)}, "path": {_json_string(path)},'
            f' "status": {int(status)}, "duration_ms": '
        )
        if len(self._fields) < self.CACHED_FIELDS and len(path) <= 256:
            self._fields[(method, path, status)] = fields
        return fields


def _line_head(ms: int) -> str:
    """An access-log line up to its request id, at `ms` (milliseconds since the epoch)."""
    second, millis = divmod(ms, 1000)
    return (
        f'{{"ts": "{_utc_second(second)}.{millis:03d}Z", "level": "info",'
        f' "logger": "{ACCESS_LOGGER}", "msg": "request", "request_id": '
    )


@functools.lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _piece_limit(stream: TextIO, chunk: int) -> int:
    """How long a piece written to `stream` may be: `chunk` for a pipe, a socket or anything
    else another process may share; unlimited for a regular file, where the kernel does not
    interleave one write with another (a batch is then one system call, not one per 4 KB).
    Asked at each flush (one fstat): sys.stderr can be replaced while the process runs."""
    try:
        regular = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):  # no file descriptor (an in-memory stream), or closed
        regular = False
    return sys.maxsize if regular else chunk


def _pieces(text: str, limit: int) -> Iterator[str]:
    """`text` (whole lines) cut into pieces of at most `limit` characters that end with a line
    (a longer line alone)."""
    start, end = 0, len(text)
    while end - start > limit:
        cut = text.rfind("\n", start, start + limit)  # the last line end within the limit
        if cut < 0:
            cut = text.index("\n", start)  # the line alone
        yield text[start : cut + 1]
        start = cut + 1
    if start < end:
        yield text[start:]


_ACCESS_LOGS: weakref.WeakSet[AccessLog] = weakref.WeakSet()


@atexit.register
def _flush_access_logs() -> None:
    for access_log in list(_ACCESS_LOGS):
        access_log.flush()
