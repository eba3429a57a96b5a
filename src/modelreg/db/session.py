"""The request's transaction: committed when the endpoint returns, rolled back if it raises,
in both cases before the response is sent. After a commit that recorded a catalog change, the
hooks the app registered run (read your writes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.db.exceptions import DatabaseUnavailable
from modelreg.exceptions import ValidationFailed

AfterCommit = Callable[[int], Awaitable[None]]
_CHANGED = "modelreg.catalog_changed"


def mark_catalog_changed(session: AsyncSession, revision: int) -> None:
    """Say that this transaction records a catalog change, up to `revision` (called by
    `record_change`)."""
    session.info[_CHANGED] = max(revision, session.info.get(_CHANGED, 0))


def catalog_changed(session: AsyncSession) -> int | None:
    """The last catalog revision this transaction records, if it records a change."""
    revision: int | None = session.info.get(_CHANGED)
    return revision


def register_after_commit(app: FastAPI, hook: AfterCommit) -> None:
    """Run `hook(revision)` after every request transaction that committed a catalog change
    (the last revision it committed)."""
    if not hasattr(app.state, "after_commit"):
        app.state.after_commit = []
    app.state.after_commit.append(hook)


def _after_commit_hooks(app: FastAPI) -> list[AfterCommit]:
    hooks: list[AfterCommit] = getattr(app.state, "after_commit", [])
    return hooks


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        try:
            yield db
            await db.commit()
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            # PoolTimeout: every connection busy past the pool's wait; the database is, for
            # this request, unavailable.
            await _rollback(db)
            raise DatabaseUnavailable() from exc
        except DataError as exc:
            # A value PostgreSQL cannot take (out of range, a NUL character): bad input, not a
            # server error. The model layer names fields where it can; this is the backstop.
            await _rollback(db)
            reason = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
            raise ValidationFailed(
                [{"path": "$", "message": f"a value cannot be stored: {reason or 'invalid'}"}]
            ) from None
        except BaseException:
            await _rollback(db)
            raise
        revision = catalog_changed(db)
        if revision is not None:
            # A hook must not raise: the change is committed, and the client must hear so
            # (the snapshot store's hook handles its own failures).
            for hook in _after_commit_hooks(request.app):
                await hook(revision)


async def _rollback(db: AsyncSession) -> None:
    """Roll back; a connection that died meanwhile makes the answer a 503, not a 500."""
    try:
        await db.rollback()
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable() from exc


Session = Annotated[AsyncSession, Depends(session, scope="function")]
