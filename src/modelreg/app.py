"""The HTTP application: `create_app()` and its lifespan (database engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

import modelreg
from modelreg.catalog import endpoints
from modelreg.db.engine import async_engine
from modelreg.db.urls import database_url
from modelreg.exceptions import install_problem_handlers


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = async_engine(database_url(), pool_pre_ping=True)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
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
    app.include_router(endpoints.router)
    return app
