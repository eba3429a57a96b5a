"""The admin web console at /console: server-rendered pages over the same services as the admin
API (see docs/console.md)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Serve the console on `app` at /console (its pages, error pages and static files)."""
    from modelreg.console import import_pages, pages, webhook_pages

    app.include_router(pages.router)
    app.include_router(import_pages.router)
    app.include_router(webhook_pages.router)
    app.mount(
        "/console/static",
        StaticFiles(packages=[("modelreg.console", "static")]),
        name="console-static",
    )
    pages.install_handlers(app)
