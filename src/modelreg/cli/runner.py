"""Run a service call from the command line: one transaction, committed on success."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.cli.common import url
from modelreg.db.engine import async_engine

T = TypeVar("T")


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(name=f"cli:{user}")


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = async_engine(url())
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())
