"""The catalog's rules: create, patch (JSON Merge Patch), revert, and the admin list (filtered,
sorted and paged by the database). No HTTP, no SQL strings.

Every write locks the row (or inserts it), checks the caller's version when one is given,
validates the merged result as a whole, bumps the row version and records the change (audit
event, history version, catalog revision, NOTIFY) in the caller's transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import Actor
from modelreg.audit.service import Change
from modelreg.catalog import repository
from modelreg.catalog.credit_fill import fill_credits
from modelreg.catalog.exceptions import (
    ModelExists,
    ModelIsArchived,
    ModelNotFound,
    VersionConflict,
)
from modelreg.catalog.meta import LEGACY_KEYS, ModelMeta
from modelreg.catalog.models import Model
from modelreg.catalog.replacements import check_legacy_info, check_replacement
from modelreg.catalog.schemas import PATCHABLE, ModelCreate
from modelreg.catalog.versioning import (
    apply_state,
    model_change,
    model_state,
    next_version,
    record_model_change,
    record_model_changes,
)
from modelreg.config import get_settings
from modelreg.exceptions import NotFound, ValidationFailed, echo, error_path
from modelreg.lifecycle.exceptions import ReplacementInUse
from modelreg.lifecycle.rules import check_sunset
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import (
    CapabilityMatch,
    ListParams,
    SortOrder,
    check_tier,
    pack_cursor,
    sort_value,
    unpack_cursor,
)


def validated_meta(
    raw: Any, *, touched: Sequence[str] = (), previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Credits filled in, then the whole meta validated by ModelMeta: the dict to store."""
    if not isinstance(raw, dict):
        raise ValidationFailed([{"path": "meta", "message": "must be a JSON object"}])
    completed = fill_credits(raw, touched=touched, previous=previous)
    try:
        return ModelMeta.model_validate(completed).to_storage()
    except ValidationError as exc:
        raise ValidationFailed(
            [
                {"path": error_path(e["loc"], ("meta",)), "message": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None


async def get_model(session: AsyncSession, model_id: str) -> Model:
    model = await repository.get(session, model_id)
    if model is None:
        raise ModelNotFound(model_id)
    return model


async def lock_model(session: AsyncSession, model_id: str, if_match: int | None) -> Model:
    """The model, row-locked; 412 if the caller saw another version than the current one."""
    model = await repository.get_for_update(session, model_id)
    if model is None:
        raise ModelNotFound(model_id)
    if if_match is not None and if_match != model.version:
        raise VersionConflict(model_id, if_match, model.version)
    return model


async def create_model(session: AsyncSession, data: ModelCreate, actor: Actor) -> Model:
    if await repository.get(session, data.id) is not None:
        raise ModelExists(data.id)
    meta = data.meta.to_storage()
    if meta.get("legacyReplacementModelId") is not None:
        await repository.lock_replacement_graph(session)
    await check_legacy_info(session, data.id, meta)
    return await _insert(session, data, meta, actor, is_legacy=False, action="create")


async def import_model(
    session: AsyncSession,
    data: ModelCreate,
    actor: Actor,
    *,
    is_legacy: bool,
    action: str = "import",
) -> Model | None:
    """Add a model as another catalog describes it (lifecycle flags included); None if the id
    exists already. The replacement rules apply; a sunset already past is kept (it is history,
    not a new decision)."""
    if await repository.get(session, data.id) is not None:
        return None
    meta = data.meta.to_storage()
    replacement = meta.get("legacyReplacementModelId")
    if replacement is not None:
        await repository.lock_replacement_graph(session)
        await check_replacement(session, data.id, str(replacement))
    return await _insert(session, data, meta, actor, is_legacy=is_legacy, action=action)


async def _insert(
    session: AsyncSession,
    data: ModelCreate,
    meta: dict[str, Any],
    actor: Actor,
    *,
    is_legacy: bool,
    action: str,
) -> Model:
    """Insert version 1 of a model and record it; a concurrent insert of the same id is 409."""
    model = Model(
        id=data.id,
        name=data.name,
        provider=data.provider,
        is_available=data.is_available,
        is_legacy=is_legacy,
        is_archived=False,
        meta=meta,
        version=1,
    )
    try:
        async with session.begin_nested():
            await repository.add(session, model)
    except IntegrityError:
        raise ModelExists(data.id) from None
    await record_model_change(
        session, model, actor=actor, action=action, before=None, reason=data.reason
    )
    return model


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _check_patch(patch: Any) -> dict[str, Any]:
    """A merge patch's shape, before any row is read."""
    if not isinstance(patch, dict):
        raise ValidationFailed([{"path": "$", "message": "a merge patch must be a JSON object"}])
    unknown = sorted(set(patch) - PATCHABLE)
    if unknown:
        raise ValidationFailed(
            [
                {"path": key, "message": f"not patchable; patch one of {sorted(PATCHABLE)}"}
                for key in unknown
            ]
        )
    for key in ("name", "provider", "is_available"):
        if key in patch and patch[key] is None:
            raise ValidationFailed([{"path": key, "message": "cannot be removed"}])
    return patch


def _sets_replacement(patch: dict[str, Any]) -> bool:
    meta_patch = patch.get("meta")
    return isinstance(meta_patch, dict) and "legacyReplacementModelId" in meta_patch


async def _apply_patch(
    session: AsyncSession, model: Model, patch: dict[str, Any]
) -> dict[str, Any] | None:
    """Patch the locked `model` in memory, the result validated as a whole and the next
    version taken; its state before, or None when the patch changes nothing."""
    before = model_state(model)
    merged = merge_patch(
        {
            "name": model.name,
            "provider": model.provider,
            "is_available": model.is_available,
            "meta": model.meta,
        },
        patch,
    )
    errors = _check_top_level(merged)
    if errors:
        raise ValidationFailed(errors)
    meta_patch = patch.get("meta")
    touched = list(meta_patch) if isinstance(meta_patch, dict) else []
    # The current meta may be invalid, even not an object (a legacy row the mapping could not
    # make valid): only the patched result has to be valid.
    current = model.meta if isinstance(model.meta, dict) else None
    meta = validated_meta(merged.get("meta"), touched=touched, previous=current)
    if any(key in touched for key in LEGACY_KEYS):
        await check_legacy_info(session, model.id, meta, before=current)
    if model.is_archived and merged["is_available"] is True and not model.is_available:
        raise ModelIsArchived(model.id, "making it available")
    model.name = merged["name"]
    model.provider = merged["provider"]
    model.is_available = merged["is_available"]
    model.meta = meta
    if model_state(model) == before:
        return None  # nothing changed: no new version, nothing to record
    next_version(model)
    return before


async def patch_model(
    session: AsyncSession,
    model_id: str,
    patch: Any,
    actor: Actor,
    *,
    if_match: int | None,
    reason: str | None,
) -> Model:
    patch = _check_patch(patch)
    if _sets_replacement(patch):
        await repository.lock_replacement_graph(session)
    model = await lock_model(session, model_id, if_match)
    before = await _apply_patch(session, model, patch)
    if before is not None:
        await record_model_change(
            session, model, actor=actor, action="update", before=before, reason=reason
        )
    return model


async def patch_models(
    session: AsyncSession,
    patches: Sequence[tuple[str, Any]],
    actor: Actor,
    *,
    reason: str | None,
) -> list[Model]:
    """Many patches, each as `patch_model` applies it (same checks, same version and record,
    no If-Match), together: the rows locked with one statement, the changes written and
    recorded with a few (`record_model_changes`). The first patch refused refuses them all;
    the caller's transaction then writes nothing."""
    checked = [(model_id, _check_patch(patch)) for model_id, patch in patches]
    if any(_sets_replacement(patch) for _, patch in checked):
        await repository.lock_replacement_graph(session)
    models = await repository.get_many_for_update(session, [model_id for model_id, _ in checked])
    changes: list[Change] = []
    for model_id, patch in checked:
        model = models.get(model_id)
        if model is None:
            raise ModelNotFound(model_id)
        before = await _apply_patch(session, model, patch)
        if before is not None:
            changes.append(model_change(model, action="update", before=before))
    await record_model_changes(session, changes, actor=actor, reason=reason)
    return [models[model_id] for model_id, _ in checked]


def _check_top_level(merged: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for key, limit in (("name", 255), ("provider", 100)):
        value = merged.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            errors.append({"path": key, "message": f"must be a string of 1 to {limit} characters"})
    if not isinstance(merged.get("is_available"), bool):
        errors.append({"path": "is_available", "message": "must be true or false"})
    return errors


async def _check_restorable(session: AsyncSession, model: Model, state: dict[str, Any]) -> None:
    """A revert changes lifecycle flags too: the lifecycle's rules apply to the state it brings
    back, as if reached by the actions."""
    meta = state["meta"]
    sunset = meta.get("sunsetDate")
    if sunset is not None and sunset != model.meta.get("sunsetDate"):
        check_sunset(sunset)
    replacement = meta.get("legacyReplacementModelId")
    if state["is_legacy"] and not state["is_archived"] and replacement is not None:
        await check_replacement(session, model.id, str(replacement))
    if state["is_archived"] and not model.is_archived:
        replaced = await repository.models_replaced_by(session, model.id)
        if replaced:
            raise ReplacementInUse(model.id, replaced)


async def revert_model(
    session: AsyncSession,
    model_id: str,
    to_version: int,
    actor: Actor,
    *,
    if_match: int | None,
    reason: str,
) -> Model:
    """Make a past version the current one, as a new version (history is never rewritten)."""
    # A revert may bring back an edge or an archived state: checked under the graph's lock.
    await repository.lock_replacement_graph(session)
    model = await lock_model(session, model_id, if_match)
    target = await audit_repository.version(session, model_id, to_version)
    if target is None:
        raise NotFound(f"model {echo(model_id)!r} has no version {to_version}")
    before = model_state(model)
    state = copy.deepcopy(target.state)
    state["meta"] = validated_meta(state["meta"], previous=state["meta"])
    await _check_restorable(session, model, state)
    apply_state(model, state)
    next_version(model)
    await record_model_change(
        session,
        model,
        actor=actor,
        action="revert",
        before=before,
        reason=f"{reason} (to version {to_version})",
    )
    return model


async def list_models_page(
    session: AsyncSession, params: ListParams, *, default_limit: int = 100
) -> tuple[Sequence[Model], str | None]:
    """One page of the admin list (every state unless `params.states` names some) and the
    cursor of the next page, if there is one."""
    settings = get_settings()
    if params.tier is not None:
        check_tier(params.tier, settings.tiers)
    limit = params.limit if params.limit is not None else default_limit
    states = params.states if set(params.states) != set(LifecycleState) else ()
    query = repository.admin_query(
        provider=params.provider,
        capabilities=params.capabilities,
        capability_match_any=params.capability_match is CapabilityMatch.ANY,
        tier=params.tier,
        tiers=settings.tiers,
        max_credits_per_1k=params.max_credits_per_1k,
        states=states,
        q=params.q,
        sort=params.sort.value,
        descending=params.order is SortOrder.DESC,
        after=(
            unpack_cursor(params.after, params.sort, created=datetime.fromisoformat)
            if params.after
            else None
        ),
        limit=limit + 1,
    )
    models = list(await repository.run_list(session, query))
    if len(models) <= limit:
        return models, None
    page = models[:limit]
    last = page[-1]
    cursor = sort_value(
        params.sort,
        credits=str(last.meta["creditsPer1kTokens"]),
        context_length=int(last.meta["contextLength"]),
        created=last.created_at.isoformat(),
    )
    return page, pack_cursor(params.sort, cursor, last.id)


async def providers_and_state_counts(
    session: AsyncSession,
) -> tuple[list[str], dict[LifecycleState, int]]:
    """Every provider of the catalog, and how many models are in each lifecycle state."""
    return await repository.providers_and_state_counts(session)
