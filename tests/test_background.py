"""The background loops' sleep (`wait_woken`) and stop: a loop cancelled just as it is woken
stops, instead of carrying on and holding up the app's shutdown for ever."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import async_sessionmaker

from modelreg.background import BackgroundLoop, wait_woken
from modelreg.config import PriceScheduleSettings
from modelreg.db.engine import async_engine
from modelreg.events import prices


def test_wait_woken_returns_when_woken_and_after_its_timeout() -> None:
    async def main() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        loop.call_later(0.01, woken.set)
        await wait_woken(woken, 60)
        unset = asyncio.Event()
        loop.call_later(60, unset.set)  # would end the wait if the timeout did not
        await wait_woken(unset, 0.01)
        return woken.is_set(), unset.is_set()

    # Woken: the event is set. Timed out: it returned with its event still unset.
    assert asyncio.run(main()) == (True, False)


def test_a_wait_cancelled_as_it_is_woken_raises_cancelled() -> None:
    """asyncio.wait_for(event.wait(), t) returned here on Python 3.11: the cancel was lost."""

    async def main() -> str:
        event = asyncio.Event()
        task = asyncio.create_task(wait_woken(event, 60))
        await asyncio.sleep(0)  # the task now waits on the event
        event.set()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "carried on"

    assert asyncio.run(main()) == "cancelled"


def test_the_price_scheduler_stops_when_woken_as_it_is_stopped(head_url: URL) -> None:
    """The shutdown that hung: a change woke the scheduler in the same moment the app stopped
    it. A run takes a few milliseconds here and the scheduler then sleeps an hour, so a stop
    that fails to end it hangs (bounded below, and reported)."""
    now = datetime.now(UTC)

    async def main() -> Any:
        engine = async_engine(head_url)
        try:
            scheduler = prices.PriceScheduler(
                async_sessionmaker(engine),
                PriceScheduleSettings(check_interval_s=3600),
                clock=lambda: now,
            )
            scheduler.start()
            while scheduler._planned is None:  # its first run done, it sleeps
                await asyncio.sleep(0.005)
            scheduler._wake.set()
            stopping = asyncio.create_task(scheduler.stop())
            done, _ = await asyncio.wait({stopping}, timeout=30)
            task = scheduler._task
            assert task is not None
            if not done:  # what the shutdown did: clean up, and say so
                task.cancel()
                await asyncio.wait({stopping})
                return "stop() did not return"
            return task.cancelled()
        finally:
            await engine.dispose()

    assert asyncio.run(main()) is True


def test_stop_as_woken_holds_for_many_rounds() -> None:
    """The race over and over, through a BackgroundLoop as the app's loops are built."""
    rounds = 20

    class Sleeper(BackgroundLoop):
        def __init__(self) -> None:
            self.wake = asyncio.Event()
            self.sleeping = asyncio.Event()

        async def _run(self) -> None:
            while True:
                self.wake.clear()
                self.sleeping.set()
                await wait_woken(self.wake, 3600)

    async def main() -> list[bool]:
        ended = []
        for _ in range(rounds):
            loop = Sleeper()
            loop.start()
            await loop.sleeping.wait()
            loop.wake.set()
            stopping = asyncio.create_task(loop.stop())
            done, _ = await asyncio.wait({stopping}, timeout=5)
            assert loop._task is not None
            if not done:
                loop._task.cancel()
                await asyncio.wait({stopping})
            ended.append(bool(done) and loop._task.cancelled())
        return ended

    assert asyncio.run(main()) == [True] * rounds


class SlowToStop(BackgroundLoop):
    """A loop that winds down once cancelled only when `release` is set (a last write, say)."""

    name = "slow-to-stop"

    def __init__(self) -> None:
        self.winding_down = asyncio.Event()
        self.release = asyncio.Event()

    async def _run(self) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            self.winding_down.set()
            await self.release.wait()


async def stopping_while_it_winds_down() -> tuple[SlowToStop, asyncio.Task[None]]:
    """A started SlowToStop, and a task running its stop(), once the loop has begun to wind
    down (and waits for `release`)."""
    loop = SlowToStop()
    loop.start()
    await asyncio.sleep(0)
    stopping = asyncio.create_task(loop.stop())
    await loop.winding_down.wait()
    return loop, stopping


def test_stop_ends_the_loop_and_returns() -> None:
    async def main() -> tuple[bool, bool]:
        loop, stopping = await stopping_while_it_winds_down()
        waited = not stopping.done()  # stop() waits for the loop to end
        loop.release.set()
        await stopping
        assert loop._task is not None
        return waited, loop._task.cancelled()

    assert asyncio.run(main()) == (True, True)


def test_a_caller_cancelled_while_stop_waits_is_cancelled() -> None:
    """stop() used to swallow every CancelledError, the caller's own included."""

    async def main() -> tuple[bool, bool]:
        loop, stopping = await stopping_while_it_winds_down()  # stop() waits for the loop
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
        assert loop._task is not None
        with contextlib.suppress(asyncio.CancelledError):
            await loop._task  # cancelled again with its caller: it ends without `release`
        return stopping.cancelled(), loop._task.done()

    assert asyncio.run(main()) == (True, True)
