"""Keeping the long-lived heap out of the garbage collector's way.

A serving process holds a large, long-lived heap (the application, its libraries and the
catalog snapshot: about 120,000 objects with 20 models, far more with thousands) and creates
short-lived objects with every request. CPython's cyclic collector walks the whole heap on every
full collection, and a steady request load triggers one every second or so: a pause of tens of
milliseconds in which no request is answered, which shows up as the p99 at high concurrency.

`HeapKeeper.build(make)` runs a snapshot build with the collector paused (a build allocates an
object or more per field of every model, and each allocation counts toward the next collection,
which would walk the growing build again and again: at 100,000 models, building with the
collector on took twice as long), then, still paused, collects the garbage and moves everything
alive to the collector's permanent generation (`gc.freeze()`), which collections do not walk.
Only then is the collector resumed, with nothing young left for it to walk. The pause covers
the build alone (CPU work in a worker thread), never a wait on the database.

Frozen objects are still freed by reference counting when the last reference goes (an old
snapshot's models are). What the collector alone could free, a reference cycle that became
garbage after it was frozen (an in-flight request at the moment of a freeze, say), stays until
the next sweep: a collection over the whole heap, frozen part included, at the next build once
the frozen heap has grown by `SWEEP_GROWTH` or `SWEEP_INTERVAL_S` has passed since the last
sweep. A sweep, like the first settle at start-up, pauses the process for one full collection.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from modelreg import metrics

SWEEP_GROWTH = 1.5  # sweep the frozen heap when it has grown by half since the last sweep
SWEEP_INTERVAL_S = 600.0  # and at the first build ten minutes after the last sweep
# After the first build, a build leaves its settle pending (`pending`) and the store settles
# once no build came for SETTLE_QUIET_S, or SETTLE_MAX_DELAY_S after the first build that left it
# pending. Under a steady stream of writes (a reload each) a settle per build cost every write
# tens of milliseconds of collection, and a settle on a write's path delays its events.
SETTLE_QUIET_S = 1.0
SETTLE_MAX_DELAY_S = 10.0

T = TypeVar("T")


class _Pauses:
    """Builds pausing the collector at once (several stores can live in one process), and
    whether the collector was on before the first of them."""

    lock = threading.Lock()
    depth = 0
    resume = False


@dataclass
class HeapKeeper:
    enabled: bool = True
    swept_at: int = 0  # gc.get_freeze_count() after the last sweep
    swept_time: float = 0.0  # time.monotonic() of the last sweep
    settles: int = 0
    sweeps: int = 0
    pending: bool = False  # a build was made since the last settle and not settled

    def build(self, make: Callable[[], T]) -> T:
        """`make()` with the collector paused; the first build then settles the heap before
        the collector resumes, every later one leaves its settle pending (`settle_pending`)."""
        with self.paused():
            made = make()
            if self.settles:
                self.pending = self.enabled
            else:
                self.settle()
        return made

    def settle_pending(self) -> bool:
        """Settle, with the collector paused, if a build left its settle pending; whether it
        did."""
        if not self.pending:
            return False
        with self.paused():
            self.settle()
        return True

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The cyclic collector off for the duration (reference counting goes on)."""
        if not self.enabled:
            yield
            return
        with _Pauses.lock:
            if _Pauses.depth == 0:
                _Pauses.resume = gc.isenabled()
                gc.disable()
            _Pauses.depth += 1
        try:
            yield
        finally:
            with _Pauses.lock:
                _Pauses.depth -= 1
                if _Pauses.depth == 0 and _Pauses.resume:
                    gc.enable()

    def settle(self) -> None:
        """Collect the garbage of the last build and freeze what survives (sweeping the frozen
        heap instead when it has grown too much or not been swept for too long)."""
        if not self.enabled:
            return
        started = time.perf_counter()
        if self._sweep_due():
            self._sweep()
        else:
            gc.collect()  # walks what is not frozen yet: the new build and recent requests
            gc.freeze()
            if gc.get_freeze_count() > self.swept_at * SWEEP_GROWTH:
                self._sweep()
        self.settles += 1
        self.pending = False
        metrics.HEAP_SETTLE_SECONDS.observe(time.perf_counter() - started)
        metrics.HEAP_FROZEN_OBJECTS.set(gc.get_freeze_count())

    def _sweep_due(self) -> bool:
        return self.swept_at == 0 or time.monotonic() - self.swept_time > SWEEP_INTERVAL_S

    def _sweep(self) -> None:
        """Collect over the whole heap, frozen part included, and freeze what survives."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.swept_at = gc.get_freeze_count()
        self.swept_time = time.monotonic()
        self.sweeps += 1
