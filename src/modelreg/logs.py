"""Structured logs: one JSON object per line on stderr, with the request id when there is one."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import json
import logging
import logging.config
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
    that is killed loses at most the last interval's lines. Writes are split into pieces of at
    most `CHUNK` bytes that end with a line, so that processes sharing one pipe do not
    interleave within a line. A stream that fails (a closed pipe, say) drops the batch and counts
    it in `modelreg_access_log_dropped_lines_total`; requests never see the error.

    The lines go to stderr (or `stream`) whatever handlers logging has: on when
    `MODELREG_LOG_REQUESTS` is true and the `modelreg.access` logger is enabled for INFO, so
    logging's configuration can still silence it. Used from one event loop's thread at a time.
    """

    CHUNK = 4096  # PIPE_BUF on Linux: a write this size to a pipe is not split

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
        self._second = -1
        self._stamp = ""
        _ACCESS_LOGS.add(self)

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def write(
        self, method: str, path: str, status: int, duration_ms: float, request_id: str
    ) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._lines.append(
            f'{{"ts": "{self._stamp}.{int((now - second) * 1000):03d}Z", "level": "info",'
            f' "logger": "{ACCESS_LOGGER}", "msg": "request",'
            f' "request_id": {_json_string(request_id)}, "method": {_json_string(method)},'
            f' "path": {_json_string(path)}, "status": {int(status)},'
            f' "duration_ms": {float(duration_ms)!r}}}\n'
        )
        if len(self._lines) >= self.max_lines:
            self.flush()
        else:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop to flush later from
            return
        if self._timer is not None and self._timer_loop is loop:
            return  # a flush is pending on this loop
        # None pending, or pending on another loop, which may close before it fires.
        self._timer = loop.call_later(self.interval_s, self.flush)
        self._timer_loop = loop

    def flush(self) -> None:
        self._timer = None
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        stream = self.stream if self.stream is not None else sys.stderr
        written = 0
        try:
            for chunk, count in _chunks(lines, self.CHUNK):
                stream.write(chunk)
                stream.flush()
                written += count
        except (OSError, ValueError):
            self.dropped += len(lines) - written
            ACCESS_LOG_DROPPED.inc(len(lines) - written)


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
