"""Keeping the long-lived heap out of the garbage collector's way.

A serving process holds a large, long-lived heap (the application, its libraries and the
catalog snapshot: about 120,000 objects with 20 models, far more with thousands) and creates
short-lived objects with every request. CPython's cyclic collector walks the whole heap on every
full collection, and a steady request load triggers one every second or so: a pause of tens of
milliseconds in which no request is answered, which shows up as the p99 at high concurrency.

After each snapshot swap, `HeapKeeper.settle()` collects what is garbage and moves everything
still alive to the collector's permanent generation (`gc.freeze()`), which full collections do
not walk. Objects there are still freed by reference counting when the last reference goes (an
old snapshot's models are), so the only cost is a reference cycle that becomes garbage after
being frozen: it stays until the next sweep. A sweep (unfreeze, collect, freeze) runs whenever
the frozen heap has grown by `SWEEP_GROWTH` since the last one, which bounds that waste to a
fraction of the live heap.

While a snapshot is read and built, the collector is paused (`HeapKeeper.paused()`): a build
allocates an object or more per field of every model, and each of those allocations counts
toward the next collection, which walks the growing build again and again (at 100,000 models,
building with the collector on took twice as long). The settle that follows the swap collects
whatever the build left behind.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from modelreg.snapshot import metrics

SWEEP_GROWTH = 1.5  # sweep the frozen heap when it has grown by half since the last sweep


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
    settles: int = 0
    sweeps: int = 0

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
        heap first when it has grown too much)."""
        if not self.enabled:
            return
        started = time.perf_counter()
        if self.swept_at == 0:
            self._sweep()  # the first settle: nothing is frozen yet
        else:
            gc.collect()  # walks what is not frozen yet: the new build and recent requests
            gc.freeze()
            if gc.get_freeze_count() > self.swept_at * SWEEP_GROWTH:
                self._sweep()
        self.settles += 1
        metrics.HEAP_SETTLE_SECONDS.observe(time.perf_counter() - started)
        metrics.HEAP_FROZEN_OBJECTS.set(gc.get_freeze_count())

    def _sweep(self) -> None:
        """Collect over the whole heap, frozen part included, and freeze what survives."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.swept_at = gc.get_freeze_count()
        self.sweeps += 1
