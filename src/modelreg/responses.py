"""JSON responses whose Decimals stay exact numbers (FastAPI's encoder would make floats)."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from modelreg.config import get_settings
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
            self._json = jsonb.loads_request(await self.body())
        return self._json


class BodyTooLarge(Exception):
    pass


BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _requires_token(route: APIRoute) -> bool:
    """Whether a dependency of the route demands an API token (auth marks those)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if getattr(dependant.call, "requires_token", False):
            return True
        pending.extend(dependant.dependencies)
    return False


class ExactJSONRoute(APIRoute):
    """A route whose body is guarded before FastAPI reads it: no token, 401 (before a byte of the
    body is read); over the size limit, 413 (as it streams in); then parsed as exact JSON and
    refused with the path of the first value deeper than the limit, not finite, or holding a NUL."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        requires_token = _requires_token(self)

        async def exact_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            if request.method in BODYLESS:
                return await handler(exact)
            if requires_token and not _has_bearer(request):
                return problem_response(
                    401, "unauthorized", "a valid API token is required (Authorization: Bearer)"
                )
            limits = get_settings().limits
            try:
                body = await _read_body(request, limits.max_body_bytes)
            except BodyTooLarge:
                return problem_response(
                    413,
                    "body_too_large",
                    f"the request body is larger than {limits.max_body_bytes} bytes",
                    headers={"Connection": "close"},
                )
            exact._body = body
            if body and _is_json(request):
                try:
                    parsed = exact._json = jsonb.loads_request(body)
                except RecursionError:
                    return _invalid("$", f"nested deeper than {limits.max_json_depth} levels")
                except ValueError:
                    pass  # malformed: FastAPI reports it as it always does
                else:
                    bad = jsonb.first_unstorable(parsed, max_depth=limits.max_json_depth)
                    if bad is not None:
                        return _invalid(*bad)
            return await handler(exact)

        return exact_handler


def _invalid(path: str, message: str) -> Response:
    return problem_response(
        422,
        "validation_error",
        f"invalid input: {path}: {message}",
        errors=[{"path": path, "message": message}],
    )


def _has_bearer(request: Request) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    return media_type == "application/json" or media_type.endswith("+json")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read as it streams in; BodyTooLarge as soon as it passes `limit` bytes (or
    when Content-Length says it will)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


# One entity-tag of an If-None-Match list (RFC 9110 8.8.3, 13.1.2), with the list's commas
# and optional whitespace around it.
_ENTITY_TAG = re.compile(rb'[ \t,]*(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)')


def none_match(etag: bytes, if_none_match: bytes | None) -> bool:
    """Whether If-None-Match (all its lines joined with ", ") names `etag`: `*`, or a list of
    entity-tags compared weakly as RFC 9110 13.1.2 asks (`W/` ignored on both sides). A value
    that is not such a list matches nothing."""
    if if_none_match is None:
        return False
    if if_none_match == etag:
        return True
    opaque = etag[2:] if etag.startswith(b"W/") else etag
    value = if_none_match.strip(b" \t")
    if value == b"*":
        return True
    position, end = 0, len(value)
    while position < end:
        tag = _ENTITY_TAG.match(value, position)
        if tag is None:
            return False
        if tag.group(1) == opaque:
            return True
        position = tag.end()
    return False


def parse_if_match(value: str | None) -> int | None:
    """The row version an If-Match names (`"3"`, `W/"3"`); None for absent or `*`."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        return -1  # matches no version: the write is refused with 412
