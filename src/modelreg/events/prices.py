"""The price scheduler: scheduled prices written to their models when their time comes, as
`system:price-schedule` (audited, a new model version, the catalog revision bumped, and the
`model.updated` and `model.price_changed` events sent).

Every instance serves a scheduled price from its boundary on without waiting for this write
(the snapshot holds the schedule: `modelreg.public.snapshot`); the write makes it the model's
price of record. One instance at a time runs it, under a transaction-level advisory lock, as
the sunset scheduler does. The time is a parameter (`clock`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelreg.background import BackgroundLoop, wait_woken
from modelreg.catalog import prices
from modelreg.config import PriceScheduleSettings
from modelreg.events import repository
from modelreg.events.sunset import Clock, utc_now

log = logging.getLogger(__name__)

# The advisory lock whose holder applies scheduled prices ("modelprc").
LEADER_LOCK = 0x6D6F_6465_6C70_7263
MIN_WAIT_S = 0.5


async def run_as_leader(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime
) -> list[str] | None:
    """One run, if this instance takes the leader lock (None when another holds it): the ids
    of the models whose scheduled price was written."""
    async with sessionmaker() as session, session.begin():
        if not await repository.try_leadership(session, LEADER_LOCK):
            return None
        return await prices.apply_due(session, now)


async def next_boundary(sessionmaker: async_sessionmaker[AsyncSession]) -> datetime | None:
    async with sessionmaker() as session:
        return await prices.next_pending(session)


class PriceScheduler(BackgroundLoop):
    """Runs `run_as_leader` at each scheduled boundary, and at least every `check_interval_s`,
    on each instance (only the lock holder acts)."""

    name = "price-schedule"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: PriceScheduleSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._planned: float | None = None  # when the next run is planned (epoch seconds)

    def wake_for(self, boundary: float | None) -> None:
        """After a reload: wake if the snapshot knows a boundary (epoch seconds) sooner than
        the next planned run; every other change leaves the scheduler asleep (waking it on each
        write cost each write two queries)."""
        if boundary is not None and (self._planned is None or boundary < self._planned):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            wait = self.settings.check_interval_s
            self._wake.clear()  # a wake from here on (a change during the run) is kept
            try:
                await run_as_leader(self.sessionmaker, self.clock())
                upcoming = await next_boundary(self.sessionmaker)
                if upcoming is not None:
                    # Not before MIN_WAIT_S: a boundary already passed is another leader's to apply.
                    left = (upcoming - self.clock()).total_seconds()
                    wait = min(wait, max(MIN_WAIT_S, left))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("price schedule run failed; retrying", exc_info=True)
            self._planned = self.clock().timestamp() + wait
            await wait_woken(self._wake, wait)
            self._planned = None
