"""Structured logs: one JSON object per line on stderr, with the request id when there is one."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
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


class AccessLog:
    """The access log: one JSON line per request, written in batches.

    Each line has the shape `JsonFormatter` gives every other line (ts, level, logger, msg,
    request_id, then method, path, status, duration_ms), but is formatted here directly and
    written with the lines of the same tenth of a second: through `logging`, a line cost about
    11 us, half of what answering a request from the snapshot costs. Lines are written every
    `interval_s`, or as soon as `max_lines` wait, at shutdown (`flush`) and at exit; a process
    that is killed loses at most the last interval's lines. Writes to a pipe or socket are split
    into pieces of at most `CHUNK` bytes that end with a line, so that processes sharing one
    pipe do not interleave within a line (to a regular file, a batch is one write). The parts
    of a line that repeat (the time to the millisecond, the fields of a path already seen) are
    formatted once. A stream that fails (a closed pipe, say) drops the batch and counts
    it in `modelreg_access_log_dropped_lines_total`; requests never see the error.

    The lines go to stderr (or `stream`) whatever handlers logging has: on when
    `MODELREG_LOG_REQUESTS` is true and the `modelreg.access` logger is enabled for INFO, so
    logging's configuration can still silence it. Used from one event loop's thread at a time.
    """

    CHUNK = 4096  # PIPE_BUF on Linux: a write this size to a pipe is not split
    CACHED_FIELDS = 1024  # (method, path, status) whose escaped fields are kept

    def __init__(
        self, stream: TextIO | None = None, *, interval_s: float = 0.1, max_lines: int = 256
    ) -> None:
        self.stream = stream  # None: sys.stderr as it is when the lines are written
        self.interval_s = interval_s
        self.max_lines = max_lines
        self.dropped = 0
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._due = -1.0  # when the pending flush is overdue; -1.0: none is pending
        self._second = -1
        self._stamp = ""
        self._ms = -1
        self._head = ""
        self._fields: dict[tuple[str, str, int], str] = {}
        _ACCESS_LOGS.add(self)

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def write(
        self, method: str, path: str, status: int, duration_ms: float, request_id: str
    ) -> None:
        now = time.time()
        now_ms = int(now * 1000)
        if now_ms != self._ms:  # the line's start changes once a millisecond at most
            self._ms = now_ms
            second, millis = divmod(now_ms, 1000)
            if second != self._second:
                self._second = second
                self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._head = (
                f'{{"ts": "{self._stamp}.{millis:03d}Z", "level": "info",'
                f' "logger": "{ACCESS_LOGGER}", "msg": "request", "request_id": '
            )
        # A server answers the same few paths again and again: their fields are escaped once.
        key = (method, path, status)
        fields = self._fields.get(key)
        if fields is None:
            fields = (
                f', "method": {_json_string(method)}, "path": {_json_string(path)},'
                f' "status": {int(status)}, "duration_ms": '
            )
            if len(self._fields) < self.CACHED_FIELDS and len(path) <= 256:
                self._fields[key] = fields
        lines = self._lines
        lines.append(f"{self._head}{_json_string(request_id)}{fields}{duration_ms:.3f}}}\n")
        if len(lines) >= self.max_lines:
            self.flush()
        elif now > self._due or self._timer_loop is None or self._timer_loop.is_closed():
            # The batch's first line, or its flush cannot come: the loop that was to run it is
            # closed (each of a test client's requests can run in a loop of its own) or late.
            self._schedule(now)

    def _schedule(self, now: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop to flush later from
            return
        self._due = now + 2 * self.interval_s
        if self._timer is not None and self._timer_loop is loop:
            return  # a flush is pending on this loop
        # None pending, or pending on another loop, which may close before it fires.
        self._timer = loop.call_later(self.interval_s, self.flush)
        self._timer_loop = loop

    def flush(self) -> None:
        self._timer = None
        self._due = -1.0
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self.stream if self.stream is not None else sys.stderr
        written = 0
        try:
            for chunk, count in _chunks(lines, _piece_limit(stream, self.CHUNK)):
                stream.write(chunk)
                stream.flush()
                written += count
        except (OSError, ValueError):
            self.dropped += len(lines) - written
            ACCESS_LOG_DROPPED.inc(len(lines) - written)


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


def _chunks(lines: list[str], limit: int) -> Iterator[tuple[str, int]]:
    """`lines` joined into pieces of at most `limit` characters (a longer line alone), with
    how many lines each holds."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > limit:
            yield "".join(chunk), len(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        yield "".join(chunk), len(chunk)


_ACCESS_LOGS: weakref.WeakSet[AccessLog] = weakref.WeakSet()


@atexit.register
def _flush_access_logs() -> None:
    for access_log in list(_ACCESS_LOGS):
        access_log.flush()
