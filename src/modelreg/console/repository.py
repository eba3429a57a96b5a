"""All SQL of the console: its sign-in sessions, each with the token it signed in with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.auth.models import ApiToken
from modelreg.console.models import ConsoleSession


async def add(session: AsyncSession, row: ConsoleSession) -> None:
    session.add(row)
    await session.flush()


async def with_token(
    session: AsyncSession, session_id: str
) -> tuple[ConsoleSession, ApiToken] | None:
    result = await session.execute(
        select(ConsoleSession, ApiToken)
        .join(ApiToken, ApiToken.id == ConsoleSession.token_id)
        .where(ConsoleSession.id == session_id)
    )
    found = result.one_or_none()
    return None if found is None else (found[0], found[1])


async def delete_by_id(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def delete_for_token(session: AsyncSession, token_id: str) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.token_id == token_id))


async def delete_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
