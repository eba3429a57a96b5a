"""The current snapshot of this instance, and how a new one replaces it.

Reloads are coalesced: a notification arriving while a reload runs marks the store dirty and
causes exactly one more reload afterwards, so a burst of changes costs a handful of reloads.

Scheduled prices: the snapshot knows the next moment a model's price changes by its schedule
(`CatalogView.next_boundary`). From that moment on, the snapshot is priced again in memory
(no database read) before it is served: by a timer set for the boundary, and, should a request
come first, by that request (`fresh`). The time is the store's `clock` (epoch seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from modelreg import metrics
from modelreg.audit import repository as change_log
from modelreg.config import Settings
from modelreg.public import gc_tuning, repository
from modelreg.public.gc_tuning import HeapKeeper
from modelreg.public.repository import Delta, PriceHistory, load_delta, read_catalog
from modelreg.public.schemas import CatalogView, ModelRow, build_view, public_model
from modelreg.public.snapshot import ChangeLog, Snapshot, TokenEntry, build_snapshot

log = logging.getLogger(__name__)

# The longest the boundary timer waits before it looks again (the clock may be adjusted).
MAX_TIMER_S = 3600.0


@dataclass
class SnapshotStore:
    engine: AsyncEngine
    settings: Settings
    current: Snapshot | None = None
    # When the database last confirmed (or gave) our revision; time.time().
    confirmed_at: float = 0.0
    database_ok: bool = False
    reloads: int = 0
    _dirty: bool = False
    _reloading: asyncio.Task[None] | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # Called after every swap (the listener records notification lag there).
    after_reload: list[Callable[[], None]] = field(default_factory=list, repr=False)
    heap: HeapKeeper = field(default_factory=HeapKeeper, repr=False)
    # The time, in epoch seconds (injected by tests).
    clock: Callable[[], float] = field(default=time.time, repr=False)
    turnovers: int = 0
    _boundary_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _settle_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    _settle_by: float | None = field(default=None, repr=False)  # time.monotonic() bound

    def __post_init__(self) -> None:
        self.heap.enabled = self.settings.snapshot.gc_tuning

    def fresh(self) -> Snapshot | None:
        """The current snapshot, priced again first if a scheduled price change came since it
        was priced (cheap when none did: one comparison)."""
        snapshot = self.current
        if snapshot is None:
            return None
        boundary = snapshot.view.next_boundary
        if boundary is not None and self.clock() >= boundary:
            return self.turn_over()
        return snapshot

    def turn_over(self, now: float | None = None) -> Snapshot:
        """Price the current snapshot at `now` (the clock's time by default): the models whose
        scheduled change has come are rendered again; the revision stays, the ETag says it."""
        previous = self.current
        if previous is None:
            raise RuntimeError("the catalog snapshot is not loaded yet")
        now = self.clock() if now is None else now
        view, changed = previous.view.repriced(now)
        if not changed:
            return previous
        snapshot = build_snapshot(
            view,
            changes=previous.changes,
            tokens=previous.tokens,
            tiers=self.settings.tiers,
            previous=previous,
            changed=frozenset(changed),
        )
        self.current = snapshot
        self.turnovers += 1
        log.info("scheduled prices of %d model(s) in force", len(changed))
        self._arm_boundary()
        return snapshot

    def _arm_boundary(self) -> None:
        """Set the timer for the current snapshot's next boundary (replacing an earlier one)."""
        if self._boundary_timer is not None:
            self._boundary_timer.cancel()
            self._boundary_timer = None
        snapshot = self.current
        boundary = snapshot.view.next_boundary if snapshot is not None else None
        if boundary is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a store used synchronously): requests turn it over
        delay = min(max(0.0, boundary - self.clock()), MAX_TIMER_S)
        self._boundary_timer = loop.call_later(delay, self._boundary_reached)

    def _arm_settle(self) -> None:
        """Settle the heap a build left pending once no reload came for SETTLE_QUIET_S, or
        SETTLE_MAX_DELAY_S after the first build that left it pending (each reload moves the
        timer, within that bound)."""
        if not self.heap.pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        now = time.monotonic()
        if self._settle_by is None:
            self._settle_by = now + gc_tuning.SETTLE_MAX_DELAY_S
        if self._settle_timer is not None:
            self._settle_timer.cancel()
        delay = max(0.0, min(gc_tuning.SETTLE_QUIET_S, self._settle_by - now))
        self._settle_timer = loop.call_later(delay, self._settle_pending)

    def _settle_pending(self) -> None:
        self._settle_timer = None
        if self._lock.locked():
            self._arm_settle()  # a reload is building: its end arms the timer again
            return
        self._settle_by = None
        self.heap.settle_pending()

    def _boundary_reached(self) -> None:
        self._boundary_timer = None
        try:
            self.fresh()
        except Exception:
            log.warning("pricing the snapshot at a boundary failed", exc_info=True)
        self._arm_boundary()

    @property
    def revision(self) -> int | None:
        return self.current.revision if self.current is not None else None

    def view(self) -> CatalogView:
        snapshot = self.fresh()
        if snapshot is None:
            raise RuntimeError("the catalog snapshot is not loaded yet")
        return snapshot.view

    def age_seconds(self) -> float:
        """How long since the database last confirmed this snapshot is current."""
        return time.time() - self.confirmed_at if self.current is not None else float("inf")

    async def reload(self, at_least: int | None = None) -> Snapshot:
        """Bring the snapshot up to the database's revision and swap it in (one at a time);
        with `at_least`, nothing to do when the snapshot has that revision already (a reload
        that ran meanwhile brought it).

        When every revision since ours is accounted for by an audit event, only the changed
        rows are read and only their responses rendered again; otherwise the whole catalog.
        """
        current = self.current
        if at_least is not None and current is not None and current.revision >= at_least:
            return current
        async with self._lock:
            started = time.perf_counter()
            previous = self.current
            if at_least is not None and previous is not None and previous.revision >= at_least:
                return previous
            delta = await load_delta(self.engine, previous.revision) if previous else None
            if previous is not None and delta is not None and not delta.changes:
                snapshot = previous  # nothing new
            elif previous is not None and delta is not None:
                keep = self.settings.snapshot.changes_retained
                snapshot = await asyncio.to_thread(
                    self.heap.build, lambda: self._apply(previous, delta, keep)
                )
            else:
                revision, rows, prices, changes, tokens = await self._read_full(previous)
                snapshot = await asyncio.to_thread(
                    self.heap.build, lambda: self._build(revision, rows, prices, changes, tokens)
                )
                del rows  # the built view holds what it needs
            self.current = snapshot
            self._arm_boundary()
            self._arm_settle()
            self.confirmed_at = time.time()
            self.database_ok = True
            if snapshot is not previous:
                self.reloads += 1
                metrics.observe_reload(time.perf_counter() - started, snapshot.revision)
                for hook in self.after_reload:
                    hook()
            return snapshot

    def _apply(self, previous: Snapshot, delta: Delta, keep: int) -> Snapshot:
        now = self.clock()
        changed = [public_model(row, delta.prices.get(row.id, ()), now) for row in delta.rows]
        view = previous.view.updated(delta.revision, changed)
        return build_snapshot(
            view,
            changes=previous.changes.extended(delta.changes, keep),
            tokens=previous.tokens,
            tiers=self.settings.tiers,
            previous=previous,
            changed=frozenset(model_id for _, model_id in delta.changes),
        )

    def _build(
        self,
        revision: int,
        rows: list[ModelRow],
        prices: PriceHistory,
        changes: ChangeLog,
        tokens: dict[str, TokenEntry],
    ) -> Snapshot:
        view = build_view(revision, rows, prices, self.clock())
        return build_snapshot(view, changes=changes, tokens=tokens, tiers=self.settings.tiers)

    async def _read_full(
        self, previous: Snapshot | None
    ) -> tuple[int, list[ModelRow], PriceHistory, ChangeLog, dict[str, TokenEntry]]:
        """Revision, rows, price histories, change log and tokens, all from one REPEATABLE
        READ snapshot."""
        keep = self.settings.snapshot.changes_retained
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                revision, rows, prices = await read_catalog(conn)
                if previous is None:
                    entries = await change_log.latest_model_changes(conn, revision, keep + 1)
                    start = 0
                    if len(entries) > keep:
                        start, entries = entries[0][0], entries[1:]
                    log = ChangeLog(tuple(entries), start)
                else:
                    found = await repository.model_changes_between(
                        conn, previous.changes.last_revision, revision
                    )
                    log = previous.changes.extended(found, keep)
                # A revision with no audit event (an edit made with plain SQL) changed
                # something the log cannot name: nothing before it is complete.
                gap = await change_log.last_unrecorded_revision(conn, log.complete_after, revision)
                if gap is not None:
                    log = ChangeLog(tuple(e for e in log.entries if e[0] > gap), gap)
                tokens = {
                    token.id: TokenEntry(token.secret_hash, token.role, token.name)
                    for token in await repository.active_tokens(conn)
                }
        return revision, rows, prices, log, tokens

    async def catch_up_after_write(self, revision: int) -> None:
        """Read your writes: this instance serves its own change (committed as `revision`)
        before it answers; a reload that came meanwhile may have brought it already. Should the
        reload fail, the write stands and the listener catches up."""
        try:
            await self.reload(at_least=revision)
        except Exception:
            log.warning("reload after a write failed; the listener will catch up", exc_info=True)
            self.request_reload()

    def request_reload(self) -> None:
        """Reload soon; coalesces with a reload already pending or running."""
        self._dirty = True
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload_while_dirty())

    async def _reload_while_dirty(self) -> None:
        debounce = self.settings.snapshot.debounce_ms / 1000
        while self._dirty:
            self._dirty = False
            if debounce:
                await asyncio.sleep(debounce)
            try:
                await self.reload()
            except Exception:
                self.database_ok = False
                metrics.RELOAD_FAILURES.inc()
                log.warning(
                    "catalog reload failed; serving revision %s", self.revision, exc_info=True
                )
                return

    async def close(self) -> None:
        """Stop a pending reload and the timers (at shutdown, before the engine goes)."""
        for timer in (self._boundary_timer, self._settle_timer):
            if timer is not None:
                timer.cancel()
        self._boundary_timer = self._settle_timer = None
        task = self._reloading
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_idle(self) -> None:
        while self._reloading is not None and not self._reloading.done():
            await asyncio.shield(self._reloading)
