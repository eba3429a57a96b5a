"""The one mutator of lifecycle state: validates the action against the table, applies it,
stamps the time, and records it with its reason."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.catalog import repository
from modelreg.catalog.meta import LEGACY_KEYS
from modelreg.catalog.models import Model
from modelreg.catalog.replacements import check_legacy_info, check_replacement
from modelreg.catalog.service import lock_model, validated_meta
from modelreg.catalog.versioning import model_state, next_version, record_model_change
from modelreg.lifecycle.exceptions import InvalidTransition, ReplacementInUse
from modelreg.lifecycle.states import ALLOWED_FROM, LifecycleAction, state_of, target_of

# Actions that add a replacement edge, or take a possible replacement out of service: they check
# and write under the replacement graph's lock (unmark-legacy only removes an edge).
GRAPH_ACTIONS = frozenset(
    {LifecycleAction.MARK_LEGACY, LifecycleAction.ARCHIVE, LifecycleAction.UNARCHIVE}
)


async def transition(
    session: AsyncSession,
    model_id: str,
    action: LifecycleAction,
    actor: Actor,
    *,
    reason: str,
    if_match: int | None = None,
    replacement_model_id: str | None = None,
    deprecation_notice: str | None = None,
    sunset_date: str | None = None,
    force: bool = False,
) -> Model:
    if action in GRAPH_ACTIONS:
        await repository.lock_replacement_graph(session)
    model = await lock_model(session, model_id, if_match)
    current = state_of(model)
    if current not in ALLOWED_FROM[action]:
        raise InvalidTransition(model_id, action, current, target_of(action, model))
    before = model_state(model)
    meta = dict(model.meta)

    if action is LifecycleAction.MARK_LEGACY:
        meta["legacyReplacementModelId"] = replacement_model_id
        meta["deprecationNotice"] = deprecation_notice
        meta["sunsetDate"] = sunset_date
        meta["deprecatedAt"] = datetime.now(UTC).isoformat()
        meta = validated_meta(meta, previous=model.meta)
        await check_legacy_info(session, model_id, meta)
        model.is_legacy = True
    elif action is LifecycleAction.UNMARK_LEGACY:
        for key in LEGACY_KEYS:
            meta[key] = None
        meta = validated_meta(meta, previous=model.meta)
        model.is_legacy = False
    elif action is LifecycleAction.ARCHIVE:
        replaced = await repository.models_replaced_by(session, model_id)
        if replaced and not force:
            raise ReplacementInUse(model_id, replaced)
        model.available_before_archive = model.is_available
        model.is_available = False
        model.is_archived = True
    elif action is LifecycleAction.UNARCHIVE:
        replacement = meta.get("legacyReplacementModelId")
        if model.is_legacy and replacement is not None:
            await check_replacement(session, model_id, str(replacement))
        model.is_archived = False
        model.is_available = (
            model.available_before_archive if model.available_before_archive is not None else True
        )
        model.available_before_archive = None

    model.meta = meta
    next_version(model)
    await record_model_change(
        session, model, actor=actor, action=action.value, before=before, reason=reason
    )
    return model
