"""The request's transaction: committed when the endpoint returns, rolled back if it raises,
in both cases before the response is sent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog.exceptions import DatabaseUnavailable
from modelreg.exceptions import ValidationFailed

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
        except DataError as exc:
            # A value PostgreSQL cannot take (out of range, a NUL character): bad input, not a
            # server error. The model layer names fields where it can; this is the backstop.
            await db.rollback()
            reason = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
            raise ValidationFailed(
                [{"path": "$", "message": f"a value cannot be stored: {reason or 'invalid'}"}]
            ) from None
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
