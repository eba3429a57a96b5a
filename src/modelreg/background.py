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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError
