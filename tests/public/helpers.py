"""What the public API tests share: service calls made straight in a database, validation
problem checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.catalog import service
from modelreg.catalog import transitions as lifecycle
from modelreg.db import jsonb
from modelreg.db.engine import async_engine
from modelreg.lifecycle.states import LifecycleAction
from tests.fixtures.http import PROBLEM_JSON, media_type

T = TypeVar("T")

TEST_ACTOR = Actor(name="test")


def in_transaction(url: URL, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the database at `url`."""

    async def main() -> T:
        engine = async_engine(url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def archive(url: URL, model_id: str) -> None:
    """Archive a model the way the lifecycle does it (unavailable while archived)."""

    async def work(session: AsyncSession) -> None:
        await lifecycle.transition(
            session, model_id, LifecycleAction.ARCHIVE, TEST_ACTOR, reason="test", force=True
        )

    in_transaction(url, work)


def patch_model(url: URL, model_id: str, patch: dict[str, Any]) -> None:
    """Apply a JSON Merge Patch to a model through the catalog service."""

    async def work(session: AsyncSession) -> None:
        await service.patch_model(
            session, model_id, patch, TEST_ACTOR, if_match=None, reason="test"
        )

    in_transaction(url, work)


def body_of(response: httpx2.Response) -> Any:
    """The JSON body with every non-integer number as an exact Decimal."""
    return jsonb.loads(response.text)


def names_parameter(path: str, parameter: str) -> bool:
    """Whether an error path (`tier`, `query.limit`, `body.input_tokens`, `state[0]`) names
    `parameter`."""
    name = path.split("[", 1)[0]
    return name == parameter or name.endswith(f".{parameter}")


def assert_validation_problem(response: httpx2.Response, parameter: str) -> None:
    """A 422 problem+json whose errors name `parameter`."""
    assert response.status_code == 422, response.text
    assert media_type(response) == PROBLEM_JSON
    problem = response.json()
    assert problem["code"] == "validation_error"
    paths = [error["path"] for error in problem["errors"]]
    assert any(names_parameter(path, parameter) for path in paths), paths
