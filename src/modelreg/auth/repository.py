"""All SQL of API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.auth.models import ApiToken


async def add(session: AsyncSession, token: ApiToken) -> None:
    session.add(token)
    await session.flush()


async def get(session: AsyncSession, token_id: str) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def list_all(session: AsyncSession) -> Sequence[ApiToken]:
    result = await session.execute(select(ApiToken).order_by(ApiToken.created_at))
    return result.scalars().all()


async def touch(session: AsyncSession, token_id: str, when: datetime) -> None:
    """Best effort: a request never waits for another one holding the token row."""
    free = select(ApiToken.id).where(ApiToken.id == token_id).with_for_update(skip_locked=True)
    await session.execute(
        update(ApiToken).where(ApiToken.id.in_(free.scalar_subquery())).values(last_used_at=when)
    )
