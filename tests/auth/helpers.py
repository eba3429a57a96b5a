"""What the HTTP tests share: API tokens made straight in a database, and an app served over it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.app import create_app
from modelreg.audit.schemas import Actor
from modelreg.auth import service
from modelreg.auth.roles import Role
from modelreg.config import get_settings
from modelreg.db.engine import async_engine

PROBLEM_JSON = "application/problem+json"


async def _issue(url: URL, role: Role, name: str, revoked: bool) -> str:
    engine = async_engine(url)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        async with factory() as session, session.begin():
            token, plaintext = await service.create_token(
                session, name=name, role=role, actor=Actor(name="test")
            )
            if revoked:
                await service.revoke_token(session, token.id, Actor(name="test"))
        return plaintext
    finally:
        await engine.dispose()


def issue_token(url: URL, role: Role, *, name: str | None = None, revoked: bool = False) -> str:
    """A new API token in the database at `url`; its plaintext."""
    return asyncio.run(_issue(url, role, name or f"test-{role.value}", revoked))


def revoke(url: URL, token: str) -> None:
    async def work() -> None:
        engine = async_engine(url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                await service.revoke_token(session, token.split("_", 2)[1], Actor(name="test"))
        finally:
            await engine.dispose()

    asyncio.run(work())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip()


@contextmanager
def serving(url: URL, **settings: str) -> Iterator[TestClient]:
    """The app over the database at `url`, with MODELREG_<KEY> settings, for longer than one
    test (the function-scoped `use_database` fixture cannot serve a module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELREG_DATABASE_URL", url.render_as_string(hide_password=False))
        patch.setenv("MODELREG_LOG_REQUESTS", "false")
        for key, value in settings.items():
            patch.setenv(f"MODELREG_{key.upper()}", value)
        get_settings.cache_clear()
        try:
            with TestClient(create_app()) as client:
                yield client
        finally:
            get_settings.cache_clear()
