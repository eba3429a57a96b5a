"""Work gathered on an event loop one item at a time and done a batch at a time."""

from __future__ import annotations

import asyncio
import atexit
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


class Batch(Generic[Item]):
    """Items handed to `sink` together: `interval_s` after the first item of a batch, as soon as
    `max_items` wait, at `flush()`, when the event loop that was to flush them ends, and at exit.

    Adding an item is a list append; what the sink does per item (counting, formatting, writing)
    is done once a batch, in one go. The flush waits in a task, not a timer: a loop that ends
    cancels its tasks (asyncio.run, anyio, a server's shutdown), and the cancelled task flushes
    what waited, so that items never wait for a loop that is gone (a loop closed without
    ending its tasks, `loop.close()` alone, leaves its items to the next full batch, `flush()`
    or the exit). A process that is killed loses at most the last interval's items. The sink
    runs on the event loop's thread and must not raise. Used from one event loop's thread at a
    time.
    """

    def __init__(
        self, sink: Callable[[list[Item]], None], *, interval_s: float = 0.1, max_items: int = 256
    ) -> None:
        self.sink = sink
        self.interval_s = interval_s
        self.max_items = max_items
        self.items: list[Item] = []
        self._flusher: asyncio.Task[None] | None = None
        _BATCHES.add(self)

    def add(self, item: Item) -> None:
        items = self.items
        items.append(item)
        if len(items) >= self.max_items:
            self.flush()
        elif len(items) == 1:
            self._schedule()

    def _schedule(self) -> None:
        """After the batch's first item: its flush is set to come."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()  # no event loop to flush later from
            return
        flusher = self._flusher
        if flusher is not None and not flusher.done() and flusher.get_loop() is loop:
            return  # one is waiting already; it flushes whatever is there when it wakes
        self._flusher = loop.create_task(self._flush_later(), name="modelreg-batch-flush")

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.interval_s)
        except asyncio.CancelledError:
            if self._flusher is asyncio.current_task():  # the loop is ending, not flush()
                self._flusher = None
                self._hand_over()
            raise
        self._flusher = None
        self._hand_over()

    def flush(self) -> None:
        """Hand every waiting item to the sink now (the next item starts a new interval)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done() and not flusher.get_loop().is_closed():
            flusher.cancel()
        self._hand_over()

    def _hand_over(self) -> None:
        if not self.items:
            return
        items, self.items = self.items, []
        self.sink(items)


_BATCHES: weakref.WeakSet[Batch[Any]] = weakref.WeakSet()


@atexit.register
def _flush_batches() -> None:
    for batch in list(_BATCHES):
        batch.flush()
