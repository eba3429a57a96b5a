"""A loop the app starts with its lifespan and cancels at shutdown (the catalog listener, the
webhook dispatcher, the sunset and price schedulers)."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """Subclasses give `name` and `_run` (a loop that runs until cancelled)."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait until it has ended. Its own cancellation ends here; a
        cancellation of the task that called `stop()`, meanwhile, goes on to that task."""
        task = self._task
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    async def _run(self) -> None:
        raise NotImplementedError


async def wait_woken(event: asyncio.Event, timeout_s: float) -> None:
    """Until `event` is set or `timeout_s` has passed, whichever comes first.

    Not `asyncio.wait_for(event.wait(), timeout)`: on Python 3.11, when the task is cancelled
    just as the event is set, wait_for returns instead of raising CancelledError. A loop that
    sleeps that way then carries on after `stop()` cancelled it, and `stop()` waits for ever:
    an app's shutdown hung so (a change arriving as the app stopped set the event)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
