"""The request's transaction: committed when the endpoint returns, rolled back if it raises,
in both cases before the response is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.exceptions import DatabaseUnavailable


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        try:
            yield db
            await db.commit()
        except (OperationalError, InterfaceError) as exc:
            await db.rollback()
            raise DatabaseUnavailable() from exc
        except BaseException:
            await db.rollback()
            raise


Session = Annotated[AsyncSession, Depends(session, scope="function")]
