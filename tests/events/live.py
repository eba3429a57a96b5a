"""The app served by uvicorn on 127.0.0.1 in a thread (for streams, which the in-process test
client cannot read while they are open), and a small Server-Sent Events reader."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from modelreg.app import create_app


@contextmanager
def live_server() -> Iterator[str]:
    """The app (settings from the environment) on a free port; its base URL."""
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str | None
    data: str


def events(response: httpx.Response, *, comments: list[str] | None = None) -> Iterator[Event]:
    """The events of an open SSE response, as they arrive (comments go to `comments`)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data or fields:
                yield Event(fields.get("id"), fields.get("event"), "\n".join(data))
            fields, data = {}, []
            continue
        if line.startswith(":"):
            if comments is not None:
                comments.append(line)
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
