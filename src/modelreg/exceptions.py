"""The root of every error modelreg raises on purpose, and its problem+json rendering.

    ModelRegError(message, status_code, code)
    ├── NotFound                               404 not_found
    ├── ValidationFailed                       422 validation_error (with the path of each field)
    ├── SchemaNotCurrent                       409 schema_not_current        catalog/seed.py
    ├── catalog/exceptions.py
    │   ├── ModelNotFound (a NotFound)         404 not_found
    │   ├── ModelExists                        409 model_exists
    │   ├── ModelArchived                      410 model_archived
    │   ├── ChainEndsUnserved                  410 chain_ends_unserved (resolve)
    │   ├── ModelIsArchived                    409 model_is_archived
    │   └── VersionConflict                    412 version_conflict
    ├── lifecycle/exceptions.py
    │   ├── InvalidTransition                  409 invalid_transition
    │   ├── ReplacementInvalid                 422 replacement_invalid
    │   └── ReplacementInUse                   409 replacement_in_use
    ├── auth/exceptions.py
    │   ├── Unauthorized                       401 unauthorized
    │   ├── Forbidden                          403 forbidden
    │   └── TokenNotFound                      404 not_found
    └── db/exceptions.py
        ├── DatabaseUnavailable                503 database_unavailable
        └── DatabaseError
            ├── DowngradeWouldLoseData         409 downgrade_would_lose_data
            └── AdoptionMismatch               409 adoption_mismatch

Each carries a stable `code`; the HTTP layer renders them as RFC 9457 problem+json (never a
stack trace) and the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelreg.metrics import ERRORS

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


class ModelRegError(Exception):
    message: str
    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        code: str | None = None,
        **extra: Any,
    ):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra


class NotFound(ModelRegError):
    status_code = 404
    code = "not_found"


class ValidationFailed(ModelRegError):
    """Bad input: every error names the JSON path of its field."""

    status_code = 422
    code = "validation_error"

    def __init__(self, errors: Sequence[dict[str, Any]], message: str | None = None):
        self.errors = list(errors)
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in self.errors[:5])
        super().__init__(message or f"invalid input: {summary}", errors=self.errors)


ECHO_CHARS = 100


def echo(value: str, limit: int = ECHO_CHARS) -> str:
    """A value from the request as an error message repeats it: cut to `limit` characters."""
    return value if len(value) <= limit else f"{value[:limit]}…"


def error_path(loc: Sequence[int | str], prefix: Sequence[str] = ()) -> str:
    """A pydantic error location as a JSON path: (meta, capabilities, 0) -> meta.capabilities[0]."""
    path = ""
    for part in (*prefix, *loc):
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "$"


def _strip_source(loc: Sequence[int | str]) -> Sequence[int | str]:
    """("body", "meta", "contextLength") -> ("meta", "contextLength"); ("query", "limit") ->
    ("limit",): paths name the field as the client wrote it."""
    if len(loc) > 1 and loc[0] in ("body", "query", "path", "header"):
        return loc[1:]
    return loc


def problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem document."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    ERRORS.labels(code).inc()
    return JSONResponse(
        problem(status, code, detail, **extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as application/problem+json with a stable code."""

    async def modelreg_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ModelRegError)
        from fastapi.encoders import jsonable_encoder

        return problem_response(
            exc.status_code, exc.code, exc.message, **jsonable_encoder(exc.extra)
        )

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"path": error_path(_strip_source(e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "validation_error", f"invalid input: {summary}", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(
            exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(ModelRegError, modelreg_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
