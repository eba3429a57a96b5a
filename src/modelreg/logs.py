"""Structured logs: one JSON object per line on stderr, with the request id when there is one."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import logging.config
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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


# One request as the access log takes it: method, route template, status, the seconds it took,
# when it ended (time.perf_counter()), the path, and the request id as it stands between the
# quotes of a JSON string (`json_text`). The latency series counts the same records.
AccessRecord = tuple[str, str, int, float, float, str, str]


class AccessLog:
    """The access log: one JSON line per request, written a batch at a time (`write`; the edge
    gathers the batches, modelreg.batching).

    Each line has the shape `JsonFormatter` gives every other line (ts, level, logger, msg,
    request_id, then method, path, status, duration_ms), but is formatted here directly: through
    `logging`, a line cost about 11 us, half of what answering a request from the snapshot costs.
    The lines of a batch are formatted in one `%` over all of them, and the parts of a line that
    repeat (the time to the millisecond, the fields of a path already seen) are formatted once.
    Writes to a pipe or socket are split into pieces of at most `CHUNK` bytes that end with a
    line, so that processes sharing one pipe do not interleave within a line (to a regular file,
    a batch is one write). A stream that fails (a closed pipe, say) drops the batch and counts it
    in `modelreg_access_log_dropped_lines_total`; requests never see the error.

    The lines go to stderr (or `stream`) whatever handlers logging has: on when
    `MODELREG_LOG_REQUESTS` is true and the `modelreg.access` logger is enabled for INFO when a
    batch is written, so logging's configuration can still silence it.
    """

    CHUNK = 4096  # PIPE_BUF on Linux: a write this size to a pipe is not split
    CACHED_FIELDS = 1024  # (method, path, status) whose escaped fields are kept
    # One line: its start to the request id, the id, the fields, the duration.
    LINE = '%s"%s"%s%.3f}\n'

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream  # None: sys.stderr as it is when the lines are written
        self.dropped = 0
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._fields: dict[tuple[str, str, int], str] = {}

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def write(self, records: Sequence[AccessRecord]) -> None:
        """Write the lines of `records` now, if the log is enabled (asked once a batch)."""
        if not records or not self.enabled:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        text = self._format(records, time.time() - time.perf_counter())
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

    def _format(self, records: Sequence[AccessRecord], wall_offset: float) -> str:
        """The lines of `records`, in one `%` over all of them. `wall_offset` turns their
        perf_counter() times into time.time() ones."""
        values: list[object] = []
        add = values.extend
        fields_of = self._fields.get
        ms, head = -1, ""
        for method, _, status, seconds, ended, path, request_id in records:
            moment = int((ended + wall_offset) * 1000)
            if moment != ms:  # the line's start changes once a millisecond at most
                ms, head = moment, _line_head(moment)
            # A server answers the same few paths again and again: their fields are escaped once.
            fields = fields_of((method, path, status)) or self._fields_for(method, path, status)
            add((head, request_id, fields, seconds * 1000))
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
