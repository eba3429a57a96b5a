"""The reference server of `read_path.py`: a bare ASGI app that answers from a dict.

It serves, byte for byte, responses recorded from a running modelreg (status, body and the
content headers), so it costs what serving those bytes costs under uvicorn and nothing more: no
framework, no routing beyond one dict lookup, no database.

    MODELREG_BENCH_RESPONSES=responses.json \
        python -m uvicorn minimal_app:create_app --factory --app-dir bench --port 8001

The JSON file maps a path to {"status": int, "headers": [[name, value], ...], "body_b64": str}.
Any other path gets 404.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RESPONSES_ENV = "MODELREG_BENCH_RESPONSES"

Response = tuple[int, list[tuple[bytes, bytes]], bytes]


def load_responses(path: Path) -> dict[str, Response]:
    raw: dict[str, dict[str, Any]] = json.loads(path.read_text())
    responses: dict[str, Response] = {}
    for route, spec in raw.items():
        body = base64.b64decode(spec["body_b64"])
        headers = [
            (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
            for name, value in spec["headers"]
            if str(name).lower() != "content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        responses[route] = (int(spec["status"]), headers, body)
    return responses


NOT_FOUND: Response = (
    404,
    [(b"content-type", b"text/plain"), (b"content-length", b"9")],
    b"not found",
)


def create_app() -> ASGIApp:
    responses = load_responses(Path(os.environ[RESPONSES_ENV]))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, headers, body = responses.get(scope["path"], NOT_FOUND)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
