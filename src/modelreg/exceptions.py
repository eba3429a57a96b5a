"""The root of every error modelreg raises on purpose.

    ModelRegError(message, status_code, code)
    ├── NotFound                               404 not_found
    ├── SchemaNotCurrent                       409 schema_not_current   (catalog/seed.py)
    └── DatabaseError                          db/
        ├── DowngradeWouldLoseData             409 downgrade_would_lose_data
        └── AdoptionMismatch                   409 adoption_mismatch

Each carries a stable `code`; the HTTP layer renders them as RFC 9457 problem+json and the CLI
prints the message and exits non-zero.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


class ModelRegError(Exception):
    message: str
    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class NotFound(ModelRegError):
    status_code = 404
    code = "not_found"


def problem(status: int, code: str, title: str, detail: str, **extra: object) -> dict[str, object]:
    """An RFC 9457 problem document."""
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }


def install_problem_handlers(app: FastAPI) -> None:
    """Render every ModelRegError as application/problem+json with its stable code."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ModelRegError)
        body = problem(exc.status_code, exc.code, HTTPStatus(exc.status_code).phrase, exc.message)
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON)

    app.add_exception_handler(ModelRegError, handle)
