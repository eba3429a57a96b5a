"""Jinja2 rendering of the console's pages, and its error pages (401 -> sign-in, 403, 404 ...)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

import modelreg
from modelreg.console.sessions import SignedIn
from modelreg.console.views import pretty_json
from modelreg.lifecycle.states import state_of


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if value is None else str(value)


def _show(value: Any) -> str:
    """A value of a diff, short: JSON for structures, plain for scalars."""
    if isinstance(value, dict | list):
        return pretty_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _number(value) if isinstance(value, Decimal | int) else str(value)


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelreg.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = _number
    env.filters["when"] = _when
    env.filters["show"] = _show
    env.filters["pretty_json"] = pretty_json
    env.globals["state_of"] = state_of
    env.globals["version"] = modelreg.__version__
    return env


def render(
    request: Request,
    template: str,
    user: SignedIn | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = (
        environment()
        .get_template(template)
        .render(request=request, user=user, path=request.url.path, **context)
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        " frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response
