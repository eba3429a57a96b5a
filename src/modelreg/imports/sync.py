"""The scheduled sync: every `MODELREG_SYNC__INTERVAL_S`, fetch each configured list, plan, and
either apply the safe part (`apply-safe`) or only keep the plan for review (`review`).

The safe part is the price changes within the threshold (`MODELREG_IMPORTS__MAX_PRICE_CHANGE_PCT`,
not from 0) and the deprecation dates (new ones, and a legacy model's sunset moved); everything
else (new models, other fields, larger price changes, vanished models) is kept in
`import_plans` for review through `/admin/v1/imports/{id}`. One instance runs it at a time: a
run takes a PostgreSQL advisory lock (`pg_try_advisory_lock`) and an instance that does not get
it skips the run. Each run is recorded in the audit log (`import.sync`) and counted in
`/metrics` (`modelreg_import_sync_runs_total{source, result}`). Started by the app's lifespan
only when sources are configured.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from modelreg import metrics
from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.catalog.meta import PRICE_KEYS
from modelreg.config import SyncSource, get_settings
from modelreg.imports import repository, service
from modelreg.imports.models import ImportPlan
from modelreg.imports.plan import SOURCE_KEY, has_changes
from modelreg.imports.sources import SourceName, read_bytes

log = logging.getLogger(__name__)

# The advisory lock of the sync (any constant; "modelreg sync" in ASCII, cut to 63 bits).
LOCK_KEY = 0x6D6F64656C726567 >> 1
REASON = "scheduled sync"

Fetch = Callable[[str], bytes]


def _fetch(url: str) -> bytes:
    return read_bytes(url=url)


def safe_part(plan: dict[str, Any], max_price_change_pct: Decimal) -> dict[str, Any]:
    """The plan cut down to what the sync may apply on its own."""
    safe = copy.deepcopy(plan)
    safe["add"], safe["vanished"], safe["kept"] = [], [], []
    changes = []
    for item in plan["change"]:
        fields = [
            f
            for f in item["fields"]
            if f["field"] == "meta.sunsetDate"
            or (
                f["field"].removeprefix("meta.") in PRICE_KEYS
                and f.get("change_pct") is not None
                and abs(Decimal(f["change_pct"])) <= max_price_change_pct
            )
        ]
        if not fields:
            continue
        keys = [f["field"].removeprefix("meta.") for f in fields]
        patch = item["patch"]["meta"]
        meta = {key: patch[key] for key in keys}
        if SOURCE_KEY in patch:
            meta[SOURCE_KEY] = patch[SOURCE_KEY]
        changes.append({**item, "fields": fields, "patch": {"meta": meta}})
    safe["change"] = changes
    return safe


async def _record(session: AsyncSession, source: SourceName, result: str, **details: Any) -> None:
    await record_change(
        session,
        actor=Actor(name=f"import:{source.value}"),
        action="import.sync",
        reason=REASON,
        after={"source": source.value, "result": result, **details},
    )


async def _keep(session: AsyncSession, plan: dict[str, Any]) -> str:
    row = ImportPlan(
        id=uuid.uuid4().hex,
        source=plan["source"],
        created_at=datetime.now(UTC),
        created_by="sync",
        catalog_revision=plan["revision"],
        plan=plan,
    )
    await repository.add_plan(session, row)
    return row.id


async def run_source(
    factory: async_sessionmaker[AsyncSession], configured: SyncSource, *, fetch: Fetch = _fetch
) -> str:
    """One source: the run's result (nothing, applied, review or failed), recorded."""
    settings = get_settings()
    source = SourceName(configured.source)
    try:
        body = await asyncio.to_thread(fetch, configured.url)
        async with factory() as session, session.begin():
            options: dict[str, Any] = {
                "providers": configured.provider,
                "only": configured.only,
                "origin": configured.url,
            }
            plan = await service.plan(session, source, body, **options)
            applied: dict[str, int] = {}
            if settings.sync.mode == "apply-safe":
                safe = safe_part(plan, settings.imports.max_price_change_pct)
                if has_changes(safe):
                    applied = await service.apply(session, safe, reason=REASON)
                    plan = await service.plan(session, source, body, **options)
            plan_id = await _keep(session, plan) if has_changes(plan) else None
            result = "applied" if applied else "review" if plan_id else "nothing"
            await _record(
                session, source, result, applied=applied, plan_id=plan_id, summary=plan["summary"]
            )
        if applied:
            metrics.SYNC_CHANGES.labels(source.value).inc(sum(applied.values()))
    except Exception as exc:
        log.exception("scheduled sync of %s failed", configured.url)
        result = "failed"
        async with factory() as session, session.begin():
            await _record(session, source, result, error=str(exc)[:500])
    metrics.SYNC_RUNS.labels(source.value, result).inc()
    return result


async def run_once(engine: AsyncEngine, *, fetch: Fetch = _fetch) -> dict[str, str] | None:
    """Every configured source once, under the advisory lock; None when another instance
    holds it (then nothing is done)."""
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with engine.connect() as lock:
        taken = await repository.try_sync_lock(lock, LOCK_KEY)
        await lock.commit()  # the lock is the session's, not the transaction's
        if not taken:
            metrics.SYNC_RUNS.labels("", "locked").inc()
            return None
        try:
            metrics.SYNC_LAST_RUN.set_to_current_time()
            return {
                configured.url: await run_source(factory, configured, fetch=fetch)
                for configured in get_settings().sync.sources
            }
        finally:
            await repository.release_sync_lock(lock, LOCK_KEY)
            await lock.commit()


async def run_forever(engine: AsyncEngine) -> None:
    """The sync loop the app's lifespan starts (when sources are configured)."""
    interval = get_settings().sync.interval_s
    while True:
        try:
            await run_once(engine)
        except Exception:  # the database away: the next run tries again
            log.exception("scheduled sync run failed")
        await asyncio.sleep(interval)
