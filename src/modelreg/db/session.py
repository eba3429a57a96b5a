"""The request's transaction: committed when the endpoint returns, rolled back if it raises,
in both cases before the response is sent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.exceptions import DatabaseUnavailable

log = logging.getLogger(__name__)


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        try:
            yield db
            await db.commit()
            if db.info.get("catalog_changed"):
                await _serve_own_write(request)
        except (OperationalError, InterfaceError) as exc:
            await db.rollback()
            raise DatabaseUnavailable() from exc
        except BaseException:
            await db.rollback()
            raise


async def _serve_own_write(request: Request) -> None:
    """Read your writes: this instance serves its own change before it answers. Should the
    reload fail, the write stands and the listener catches up."""
    store = request.app.state.snapshot
    try:
        await store.reload()
    except Exception:
        log.warning("reload after a write failed; the listener will catch up", exc_info=True)
        store.request_reload()


Session = Annotated[AsyncSession, Depends(session, scope="function")]
