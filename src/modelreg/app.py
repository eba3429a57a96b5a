"""The HTTP application: `create_app()` and its lifespan (database engine, catalog reader)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import modelreg
from modelreg.audit import admin as audit_admin
from modelreg.catalog import admin as catalog_admin
from modelreg.catalog import endpoints as public
from modelreg.catalog.reader import DatabaseReader
from modelreg.db.engine import async_engine
from modelreg.db.urls import database_url
from modelreg.exceptions import install_problem_handlers
from modelreg.lifecycle import admin as lifecycle_admin

REQUEST_ID_HEADER = b"x-request-id"


class RequestId:
    """Accept X-Request-ID (else make one), keep it for the audit trail, echo it back."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1").strip()
        value = given[:200] if given else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = value
        encoded = value.encode("latin-1", "replace")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, encoded)]
            await send(message)

        await self.app(scope, receive, send_with_id)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = async_engine(database_url(), pool_pre_ping=True)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.state.catalog_reader = DatabaseReader(app.state.sessionmaker)
    try:
        yield
    finally:
        await engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(
        title="modelreg",
        version=modelreg.__version__,
        summary="Which LLM models a product offers, to whom, at what price, in what state.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    app.include_router(public.router)
    app.include_router(catalog_admin.router)
    app.include_router(lifecycle_admin.router)
    app.include_router(audit_admin.router)
    app.add_middleware(RequestId)
    return app
