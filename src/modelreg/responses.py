"""JSON responses whose Decimals stay exact numbers (FastAPI's encoder would make floats)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from modelreg.db import jsonb
from modelreg.exceptions import problem_response


class ExactJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if content is None and self.status_code == 304:
            return b""
        return jsonb.dumps(content).encode()


class RawJSONResponse(Response):
    """JSON already rendered to bytes (from the snapshot)."""

    media_type = "application/json"


class ExactJSONRequest(Request):
    """Request bodies parsed with every non-integer number as Decimal (prices stay exact)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsonb.loads(await self.body())
        return self._json


class ExactJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            if b"\\u0000" in await exact.body():
                return problem_response(
                    422,
                    "validation_error",
                    "JSON strings may not contain NUL characters (\\u0000)",
                    errors=[{"path": "$", "message": "contains \\u0000"}],
                )
            return await handler(exact)

        return exact_handler


def none_match(etag: bytes, if_none_match: bytes | None) -> bool:
    """Whether If-None-Match (all its lines joined with ", ") names `etag`: the weak
    comparison RFC 9110 13.1.2 asks for (`W/` ignored on both sides), or `*`."""
    if if_none_match is None:
        return False
    opaque = etag[2:] if etag.startswith(b"W/") else etag
    return opaque in if_none_match or if_none_match.strip() == b"*"


def parse_if_match(value: str | None) -> int | None:
    """The row version an If-Match names (`"3"`, `W/"3"`); None for absent or `*`."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        return -1  # matches no version: the write is refused with 412
