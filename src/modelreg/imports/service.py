"""Plan an import against the catalog, and apply a plan: exactly that plan, all or nothing.

Apply goes through the catalog's own services (create, patch, mark-legacy), so each change is
validated and recorded (its audit event, its model version and its own catalog revision) with
the actor `import:<source>` and the reason, in the caller's transaction. The changes of
existing models are patched together (`patch_models`: one row lock statement, the updates and
their records written in a few statements), which keeps a large plan's apply short.

It refuses, changing nothing, when a model the plan touches changed since the plan was made
(the plan records each model's version), and when the plan makes large changes (a price change
above the threshold, too many vanished models) unless they are allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.catalog import service as catalog
from modelreg.catalog import transitions
from modelreg.catalog.schemas import ModelCreate
from modelreg.config import get_settings
from modelreg.exceptions import NotFound
from modelreg.imports import repository
from modelreg.imports.exceptions import LargeChanges, PlanApplied, PlanInvalid, StalePlan
from modelreg.imports.models import ImportPlan
from modelreg.imports.plan import ACTIONS, GROUPS, PLAN_FORMAT, make_plan
from modelreg.imports.sources import SourceName, parse
from modelreg.lifecycle.states import LifecycleAction


async def plan(
    session: AsyncSession,
    source: SourceName,
    body: bytes,
    *,
    id_map: Mapping[str, str] | None = None,
    providers: Collection[str] = (),
    only: Collection[str] = (),
    origin: str | None = None,
) -> dict[str, Any]:
    parsed = parse(source, body)
    revision, rows = await repository.catalog_rows(session)
    return make_plan(
        parsed,
        rows,
        revision=revision,
        id_map=id_map,
        providers=providers,
        only=only,
        origin=origin,
    )


def check_plan(document: Any) -> dict[str, Any]:
    """The plan's shape, before anything is done with it."""
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise PlanInvalid(f"format is not {PLAN_FORMAT!r}")
    try:
        SourceName(str(document.get("source")))
    except ValueError:
        raise PlanInvalid(f"unknown source {document.get('source')!r}") from None
    for group in GROUPS:
        items = document.get(group, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise PlanInvalid(f"{group} is not a list of objects")
    for group in ACTIONS:
        for item in document.get(group, []):
            if not isinstance(item.get("id"), str):
                raise PlanInvalid(f"an item of {group} has no id")
            if group != "add" and not isinstance(item.get("version"), int):
                raise PlanInvalid(f"{group} {item['id']} has no version")
    return document


def large_changes(
    document: Mapping[str, Any], *, max_price_change_pct: Decimal, max_vanished: int
) -> list[str]:
    """What in the plan needs --allow-large-changes."""
    reasons: list[str] = []
    for item in document.get("change", []):
        for diff in item.get("fields", []):
            if "change_pct" not in diff:
                continue
            pct = diff["change_pct"]
            if pct is None:
                reasons.append(f"{item['id']}: {diff['field']} from {diff['before']}")
            elif abs(Decimal(pct)) > max_price_change_pct:
                reasons.append(f"{item['id']}: {diff['field']} {pct} %")
    vanished = len(document.get("vanished", []))
    if vanished > max_vanished:
        reasons.append(f"{vanished} vanished models (more than {max_vanished})")
    return reasons


async def stale_models(
    session: AsyncSession, document: Mapping[str, Any], *, lock: bool = False
) -> list[str]:
    """The models the plan touches that changed since it was made (a model it would add that
    exists now counts); with `lock`, their rows stay locked until the transaction ends."""
    expected: dict[str, int] = {}
    for group in ("change", "deprecate", "vanished"):
        for item in document.get(group, []):
            expected.setdefault(item["id"], item["version"])
    added = [item["id"] for item in document.get("add", [])]
    ids = [*expected, *added]
    if lock:
        current = await repository.lock_versions(session, ids)
    else:
        current = await repository.versions(session, ids)
    return sorted(
        {model_id for model_id, version in expected.items() if current.get(model_id) != version}
        | {model_id for model_id in added if model_id in current}
    )


def guardrails(document: Mapping[str, Any]) -> list[str]:
    """What in the plan needs allowing, by the configured thresholds (empty: nothing)."""
    settings = get_settings().imports
    return large_changes(
        document,
        max_price_change_pct=settings.max_price_change_pct,
        max_vanished=settings.max_vanished,
    )


async def apply(
    session: AsyncSession,
    document: Any,
    *,
    reason: str,
    allow_large_changes: bool = False,
    request_id: str | None = None,
    applied_by: str | None = None,
) -> dict[str, int]:
    """Apply the plan in the caller's transaction; the counts of what was done."""
    document = check_plan(document)
    source = SourceName(document["source"])
    actor = Actor(name=f"import:{source.value}", request_id=request_id)
    if not allow_large_changes:
        reasons = guardrails(document)
        if reasons:
            raise LargeChanges(reasons)

    stale = await stale_models(session, document, lock=True)
    if stale:
        raise StalePlan(stale)

    for item in document["add"]:
        data = ModelCreate(
            id=item["id"],
            name=item["name"],
            provider=item["provider"],
            is_available=bool(item.get("is_available", False)),
            meta=item["meta"],
            reason=reason,
        )
        await catalog.create_model(session, data, actor)
    await catalog.patch_models(
        session, [(item["id"], item["patch"]) for item in document["change"]], actor, reason=reason
    )
    for item in document["deprecate"]:
        await transitions.transition(
            session,
            item["id"],
            LifecycleAction.MARK_LEGACY,
            actor,
            reason=reason,
            replacement_model_id=item.get("replacement"),
            deprecation_notice=item.get("notice"),
            sunset_date=item.get("sunsetDate"),
        )
    for item in document["vanished"]:
        await transitions.transition(
            session,
            item["id"],
            LifecycleAction.MARK_LEGACY,
            actor,
            reason=reason,
            deprecation_notice=item.get("notice"),
        )
    counts = {group: len(document[group]) for group in ACTIONS}
    if any(counts.values()):
        await record_change(
            session,
            actor=actor,
            action="catalog.imported",
            reason=reason,
            after={
                "source": source.value,
                "origin": document.get("origin"),
                "plan_revision": document.get("revision"),
                "applied_by": applied_by,
                **counts,
            },
        )
    return counts


# --------------------------------------------------------------------------------------------
# Kept plans (`import_plans`): made through the admin API or the console, applied once.


async def make_kept_plan(
    session: AsyncSession,
    source: SourceName,
    body: bytes,
    *,
    created_by: str,
    providers: Collection[str] = (),
    only: Collection[str] = (),
    origin: str | None = None,
) -> ImportPlan:
    """Plan an import of `body` and keep the plan with an id and the revision it was made at."""
    document = await plan(session, source, body, providers=providers, only=only, origin=origin)
    row = ImportPlan(
        id=uuid.uuid4().hex,
        source=source.value,
        created_at=datetime.now(UTC),
        created_by=created_by,
        catalog_revision=document["revision"],
        plan=document,
    )
    await repository.add_plan(session, row)
    return row


async def kept_plan(session: AsyncSession, plan_id: str, *, for_update: bool = False) -> ImportPlan:
    row = await repository.get_plan(session, plan_id, for_update=for_update)
    if row is None:
        raise NotFound(f"no import plan {plan_id!r}")
    return row


async def recent_plans(session: AsyncSession, limit: int = 20) -> list[repository.PlanListing]:
    """The kept plans, newest first, with their counts (not their groups)."""
    return await repository.recent_plans(session, limit)


async def apply_kept_plan(
    session: AsyncSession,
    plan_id: str,
    *,
    reason: str,
    allow_large_changes: bool = False,
    request_id: str | None = None,
    applied_by: str,
) -> tuple[ImportPlan, dict[str, int]]:
    """Apply a kept plan once (`apply`), and mark it applied by `applied_by`."""
    row = await kept_plan(session, plan_id, for_update=True)
    if row.applied_at is not None:
        raise PlanApplied(plan_id)
    counts = await apply(
        session,
        row.plan,
        reason=reason,
        allow_large_changes=allow_large_changes,
        request_id=request_id,
        applied_by=applied_by,
    )
    row.applied_at = datetime.now(UTC)
    row.applied_by = applied_by
    await session.flush()
    return row, counts
