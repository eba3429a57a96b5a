"""The HTTP application: `create_app()` and its lifespan.

Start-up: database engine -> catalog snapshot loaded (pre-warm; the instance is not ready
before) -> LISTEN/NOTIFY listener. The read side (`public/`, `/v1`) reads only the snapshot;
the write side (`catalog/`, `/admin/v1`) writes through the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

import modelreg
from modelreg import metrics
from modelreg.catalog import admin as catalog_admin
from modelreg.catalog import audit_admin, lifecycle_admin
from modelreg.config import get_settings
from modelreg.console import install as install_console
from modelreg.db import metrics as db_metrics
from modelreg.db.engine import async_engine
from modelreg.db.session import register_after_commit
from modelreg.db.urls import database_url, libpq_conninfo
from modelreg.events import admin as webhooks_admin
from modelreg.events.delivery import Dispatcher
from modelreg.events.prices import PriceScheduler
from modelreg.events.sunset import SunsetScheduler
from modelreg.exceptions import install_problem_handlers
from modelreg.imports import admin as imports_admin
from modelreg.imports import sync
from modelreg.logs import AccessLog
from modelreg.public import endpoints as public
from modelreg.public import exports
from modelreg.public.edge import Edge
from modelreg.public.listener import CatalogListener
from modelreg.public.store import SnapshotStore
from modelreg.public.stream import ChangeStream
from modelreg.public.stream import router as stream_router
from modelreg.responses import ExactJSONResponse


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    url = database_url(settings)
    # Fail fast when the database is away: writes answer 503 instead of hanging.
    engine = async_engine(
        url, pool_pre_ping=True, pool_timeout=5, connect_args={"connect_timeout": 3}
    )
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    store: SnapshotStore = app.state.snapshot
    store.engine = engine
    metrics.time_gc_pauses()
    await store.reload()
    listener = CatalogListener(store, libpq_conninfo(url))
    app.state.listener = listener
    listener.start()
    # The scheduled import sync, only when configured (one instance at a time runs it).
    sync_task = asyncio.create_task(sync.run_forever(engine)) if settings.sync.sources else None
    dispatcher: Dispatcher | None = None
    if settings.webhooks.dispatch:
        # Woken by every snapshot reload (a change here or a notification), and by its poll.
        dispatcher = Dispatcher(app.state.sessionmaker, settings.webhooks)
        store.after_reload.append(dispatcher.wake)
        dispatcher.start()
    app.state.dispatcher = dispatcher
    sunset: SunsetScheduler | None = None
    if settings.sunset.enabled:
        sunset = SunsetScheduler(app.state.sessionmaker, settings.sunset)
        sunset.start()
    price_schedule: PriceScheduler | None = None
    if settings.prices.enabled:
        # Writes scheduled prices to the models at their boundary (one instance at a time);
        # every instance serves them from the boundary on regardless (the snapshot's timer).
        price_schedule = PriceScheduler(app.state.sessionmaker, settings.prices)
        schedule = price_schedule
        store.after_reload.append(
            lambda: schedule.wake_for(store.current.view.next_boundary if store.current else None)
        )
        price_schedule.start()
    try:
        yield
    finally:
        try:
            if sync_task is not None:
                sync_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync_task
            if sunset is not None:
                await sunset.stop()
            if price_schedule is not None:
                await price_schedule.stop()
            if dispatcher is not None:
                await dispatcher.stop()
            await listener.stop()
            await store.close()
            await engine.dispose()
        finally:
            flush_requests(app)  # the requests answered since the last batch


def flush_requests(app: FastAPI) -> None:
    """Count and log the requests `app`'s edge has answered since its last batch."""
    edge = getattr(app, "edge", None)
    if isinstance(edge, Edge):
        edge.flush()


class ModelregAPI(FastAPI):
    """FastAPI with the read path's edge (request id, metrics, access log, fast path) in front
    of its middleware stack: the hottest requests are answered before any of it runs."""

    edge: Edge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.edge is not None:
            await self.edge(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The FastAPI application proper (what the edge falls through to)."""
        await super().__call__(scope, receive, send)


def create_app() -> ModelregAPI:
    settings = get_settings()
    app = ModelregAPI(
        title="modelreg",
        version=modelreg.__version__,
        summary="Which LLM models a product offers, to whom, at what price, in what state.",
        lifespan=lifespan,
        # Metrics are our own Prometheus ones; FastAPI's OpenTelemetry hooks would cost every
        # request an environment lookup.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The engine is attached by the lifespan; the store exists from the start so that the
    # edge middleware can hold it.
    store = SnapshotStore(engine=None, settings=settings)  # type: ignore[arg-type]
    app.state.snapshot = store
    # Read your writes: the instance that took a write serves it before it answers.
    register_after_commit(app, store.catch_up_after_write)
    app.state.stream = ChangeStream(store, settings.stream)
    install_problem_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_class=ExactJSONResponse)
    async def readyz(request: Request) -> ExactJSONResponse:
        """Ready when the snapshot is loaded and the database is reachable, or was within
        MODELREG_SNAPSHOT__MAX_STALENESS_S (reads go on from the snapshot meanwhile)."""
        return ready_response(request.app)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        store: SnapshotStore = request.app.state.snapshot
        metrics.SNAPSHOT_AGE.set(store.age_seconds() if store.current else 0)
        engine: Any = request.app.state.sessionmaker.kw["bind"]
        metrics.DB_POOL_IN_USE.set(engine.pool.checkedout())
        await db_metrics.INDEX_USAGE_COLLECTOR.refresh(engine)
        flush_requests(request.app)  # every request answered so far is counted
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(public.router)
    app.include_router(exports.router)
    app.include_router(stream_router)
    app.include_router(catalog_admin.router)
    app.include_router(lifecycle_admin.router)
    app.include_router(audit_admin.router)
    app.include_router(imports_admin.router)
    app.include_router(webhooks_admin.router)
    if settings.console.enabled:
        install_console(app)
    app.edge = Edge(
        app.handle,
        store,
        fast_path=not settings.public_api_token_required,
        access_log=AccessLog() if settings.log_requests else None,
        max_header_bytes=settings.limits.max_header_bytes,
    )
    return app


def create_served_app() -> ASGIApp:
    """What `modelreg serve` runs: `create_app()`'s edge, which passes on what it does not answer
    itself (lifespan events included) to the application. The server calls it directly, one
    coroutine fewer per request than through the application's own `__call__`."""
    app = create_app()
    assert app.edge is not None
    return app.edge


def ready_response(app: FastAPI) -> ExactJSONResponse:
    store: SnapshotStore = app.state.snapshot
    listener: CatalogListener | None = getattr(app.state, "listener", None)
    if store.current is None:
        return ExactJSONResponse({"status": "starting"}, status_code=503)
    age = store.age_seconds()
    stale = not store.database_ok and age > store.settings.snapshot.max_staleness_s
    body = {
        "status": "stale" if stale else "ready",
        "revision": store.revision,
        "snapshot_age_seconds": round(age, 3),
        "snapshot_built_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(store.current.built_at)
        ),
        "database": "ok" if store.database_ok else "unreachable",
        "listener": "connected" if listener is not None and listener.connected else "down",
        "models": len(store.current.view.models),
    }
    return ExactJSONResponse(body, status_code=503 if stale else 200)
