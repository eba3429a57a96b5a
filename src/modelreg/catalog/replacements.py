"""Checks of a model's legacy information against the rest of the catalog: the replacement
exists, is served, and the chain never loops (the rules themselves are in lifecycle.rules)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.catalog import repository
from modelreg.lifecycle import rules
from modelreg.lifecycle.exceptions import ReplacementInvalid


async def check_replacement(session: AsyncSession, model_id: str, replacement_id: str) -> None:
    """It exists, is not the model itself, is not archived, and the chain never loops."""
    if replacement_id != model_id:
        replacement = await repository.get(session, replacement_id)
        if replacement is None:
            raise ReplacementInvalid(f"replacement {replacement_id!r} does not exist")
        if replacement.is_archived:
            raise ReplacementInvalid(f"replacement {replacement_id!r} is archived")
    rules.check_chain(await repository.replacement_graph(session), model_id, replacement_id)


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
        rules.check_sunset(sunset)
