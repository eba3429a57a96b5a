"""Automatic sunset: a legacy model is archived when its sunset date passes (audited as
`system:sunset`, which makes it a `model.sunset` event), and `model.sunset_approaching` is sent
at each configured lead time before, once.

One instance at a time runs it: each run holds a transaction-level advisory lock, and an
instance that cannot take it skips the run. The time is a parameter (`clock`), so that plans
and runs can be computed for any moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.background import BackgroundLoop
from modelreg.catalog.models import Model
from modelreg.catalog.transitions import transition
from modelreg.catalog.versioning import model_state
from modelreg.config import SunsetSettings
from modelreg.events import repository
from modelreg.events.models import SunsetNotice
from modelreg.events.types import SUNSET_ACTOR, SUNSET_APPROACHING_ACTION
from modelreg.lifecycle.states import LifecycleAction

log = logging.getLogger(__name__)

# The advisory lock whose holder runs the sunset (any constant no other lock uses).
LEADER_LOCK = 0x6D6F_6465_6C73_756E  # "modelsun"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def sunset_moment(value: str) -> datetime:
    """When a sunset takes effect: a date at 00:00 UTC, a datetime as given."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """Something the scheduler will do: send a notice (`lead_days` before) or archive."""

    at: datetime
    model_id: str
    action: str  # "notice" | "sunset"
    sunset_date: str
    lead_days: int | None
    replacement_model_id: str | None


def plan(
    models: Sequence[Model], lead_days: Sequence[int], sent: set[tuple[str, str, int]]
) -> list[Step]:
    """Every step still to come (or overdue), in the order they happen."""
    steps: list[Step] = []
    for model in models:
        sunset = model.meta.get("sunsetDate")
        if sunset is None:
            continue
        at = sunset_moment(str(sunset))
        replacement = model.meta.get("legacyReplacementModelId")
        for lead in sorted(set(lead_days), reverse=True):
            if (model.id, str(sunset), lead) not in sent:
                steps.append(
                    Step(
                        at - timedelta(days=lead),
                        model.id,
                        "notice",
                        str(sunset),
                        lead,
                        replacement,
                    )
                )
        steps.append(Step(at, model.id, "sunset", str(sunset), None, replacement))
    return sorted(steps, key=lambda s: (s.at, s.model_id, s.action != "notice"))


def due(steps: Sequence[Step], now: datetime) -> list[Step]:
    """The steps to take at `now`. A notice is sent only before the sunset, and of several
    overdue notices of one model only the latest (the nearest lead time) is sent."""
    taken: list[Step] = []
    sunsets = {s.model_id for s in steps if s.action == "sunset" and s.at <= now}
    latest_notice: dict[str, Step] = {}
    for step in steps:
        if step.at > now:
            continue
        if step.action == "sunset":
            taken.append(step)
        elif step.model_id not in sunsets:
            latest_notice[step.model_id] = step
    notices = list(latest_notice.values())
    return sorted(notices + taken, key=lambda s: (s.at, s.model_id))


async def load_plan(session: AsyncSession, settings: SunsetSettings) -> list[Step]:
    models = await repository.sunsetting_models(session)
    return plan(models, settings.lead_days, await repository.sent_notices(session))


async def run_due(session: AsyncSession, settings: SunsetSettings, now: datetime) -> list[Step]:
    """Take every step due at `now` in this transaction (each in a savepoint: one model that
    cannot be archived does not hold back the others); the steps taken."""
    steps = await load_plan(session, settings)
    actor = Actor(name=SUNSET_ACTOR)
    done: list[Step] = []
    for step in due(steps, now):
        try:
            async with session.begin_nested():
                if step.action == "sunset":
                    await _sunset(session, step, actor)
                else:
                    await _notice(session, step, steps, actor, now)
            done.append(step)
        except Exception:
            log.warning("sunset step %s failed; retried at the next run", step, exc_info=True)
    return done


async def _sunset(session: AsyncSession, step: Step, actor: Actor) -> None:
    await transition(
        session,
        step.model_id,
        LifecycleAction.ARCHIVE,
        actor,
        reason=f"sunset date {step.sunset_date} passed",
        force=True,
    )


async def _notice(
    session: AsyncSession, step: Step, steps: Sequence[Step], actor: Actor, now: datetime
) -> None:
    # Overdue notices of longer lead times are recorded as sent, without an event of their own.
    for other in steps:
        if other.model_id == step.model_id and other.action == "notice" and other.at <= now:
            await repository.notice_sent(
                session,
                SunsetNotice(
                    model_id=other.model_id,
                    sunset_date=other.sunset_date,
                    lead_days=other.lead_days or 0,
                ),
            )
    model = await session.get(Model, step.model_id)
    if model is None:
        return
    state: dict[str, Any] = model_state(model)
    days = max(0, (sunset_moment(step.sunset_date) - now).days)
    await record_change(
        session,
        actor=actor,
        action=SUNSET_APPROACHING_ACTION,
        reason=f"sunset on {step.sunset_date}, in {days} day(s) (notice {step.lead_days} days"
        " ahead)",
        model_id=step.model_id,
        before=state,
        after=state,
    )


async def run_as_leader(
    sessionmaker: async_sessionmaker[AsyncSession], settings: SunsetSettings, now: datetime
) -> list[Step] | None:
    """One run, if this instance takes the leader lock (None when another holds it)."""
    async with sessionmaker() as session, session.begin():
        if not await repository.try_leadership(session, LEADER_LOCK):
            return None
        return await run_due(session, settings, now)


class SunsetScheduler(BackgroundLoop):
    """Runs `run_as_leader` every `check_interval_s` on each instance (only the lock holder
    acts)."""

    name = "sunset"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: SunsetSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock

    async def _run(self) -> None:
        while True:
            try:
                await run_as_leader(self.sessionmaker, self.settings, self.clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("sunset run failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.check_interval_s)
