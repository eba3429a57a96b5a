"""Checks on legacy information: the replacement chain and the sunset date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog import repository
from modelreg.catalog.models import Model
from modelreg.exceptions import ValidationFailed
from modelreg.lifecycle.exceptions import ReplacementInvalid


def touch(model: Model) -> None:
    model.updated_at = datetime.now(UTC)


async def check_replacement(session: AsyncSession, model_id: str, replacement_id: str) -> None:
    """It exists, is not the model itself, is not archived, and the chain never loops."""
    if replacement_id == model_id:
        raise ReplacementInvalid(
            f"model {model_id!r} cannot be its own replacement", [model_id, model_id]
        )
    replacement = await repository.get(session, replacement_id)
    if replacement is None:
        raise ReplacementInvalid(f"replacement {replacement_id!r} does not exist")
    if replacement.is_archived:
        raise ReplacementInvalid(f"replacement {replacement_id!r} is archived")
    graph = await repository.replacement_graph(session)
    graph[model_id] = replacement_id
    chain = [model_id]
    current = replacement_id
    while current in graph and current not in chain:
        chain.append(current)
        current = graph[current]
    if current in chain:
        chain.append(current)
        raise ReplacementInvalid(
            f"replacement {replacement_id!r} would make a loop: {' -> '.join(chain)}", chain
        )


def check_sunset(value: Any) -> None:
    """Not in the past (a date may be today). `value` is the stored ISO string."""
    if value is None:
        return
    text = str(value)
    now = datetime.now(UTC)
    if len(text) == 10:
        past = date.fromisoformat(text) < now.date()
    else:
        past = datetime.fromisoformat(text) < now
    if past:
        raise ValidationFailed(
            [{"path": "meta.sunsetDate", "message": f"{text} is in the past"}],
        )


async def check_legacy_info(
    session: AsyncSession,
    model_id: str,
    meta: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """Validate what changed in the legacy keys of `meta` (all of them when `before` is None)."""
    replacement = meta.get("legacyReplacementModelId")
    if replacement is not None and (
        before is None or before.get("legacyReplacementModelId") != replacement
    ):
        await check_replacement(session, model_id, str(replacement))
    sunset = meta.get("sunsetDate")
    if sunset is not None and (before is None or before.get("sunsetDate") != sunset):
        check_sunset(sunset)
