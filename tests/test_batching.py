"""Batches (the edge's request records): handed over after their interval, when full, on
flush(), when their event loop ends, and at exit; never twice, never held for a loop that is
gone."""

from __future__ import annotations

import asyncio

from modelreg import batching
from modelreg.batching import Batch
from tests.fixtures.waiting import until_async


def recording(**settings: float) -> tuple[Batch[int], list[list[int]]]:
    handed: list[list[int]] = []
    return Batch(handed.append, **settings), handed  # type: ignore[arg-type]


def test_items_wait_for_the_interval_and_go_together() -> None:
    batch, handed = recording(interval_s=0.05)

    async def scenario() -> list[list[list[int]]]:
        seen = []
        for i in range(3):
            batch.add(i)
        seen.append(list(handed))  # held for the interval
        await until_async(lambda: bool(handed))
        seen.append(list(handed))  # handed over together by the flusher
        return seen

    assert asyncio.run(scenario()) == [[], [[0, 1, 2]]]


def test_a_full_batch_goes_at_once_and_the_next_item_starts_a_new_interval() -> None:
    batch, handed = recording(interval_s=0.05, max_items=3)

    async def scenario() -> list[list[list[int]]]:
        seen = []
        for i in range(4):
            batch.add(i)
        seen.append(list(handed))  # the first three at once; the fourth waits
        await until_async(lambda: len(handed) == 2)
        await asyncio.sleep(0.1)  # the cancelled flusher of the full batch hands nothing over
        seen.append(list(handed))
        return seen

    assert asyncio.run(scenario()) == [[[0, 1, 2]], [[0, 1, 2], [3]]]


def test_flush_hands_over_now_and_once() -> None:
    batch, handed = recording(interval_s=0.05)

    async def scenario() -> None:
        batch.add(1)
        batch.flush()
        batch.flush()  # nothing left
        await asyncio.sleep(0.1)  # the interval passes: its flusher was cancelled
        batch.add(2)
        await until_async(lambda: len(handed) == 2)

    asyncio.run(scenario())
    assert handed == [[1], [2]]


def test_without_an_event_loop_each_item_goes_at_once() -> None:
    batch, handed = recording()
    batch.add(1)
    batch.add(2)

    assert handed == [[1], [2]]


def test_a_loop_that_ends_hands_over_what_waited_and_the_next_loop_flushes_its_own() -> None:
    batch, handed = recording(interval_s=0.05)

    async def closing_at_once() -> None:
        batch.add(1)
        await asyncio.sleep(0)  # one turn of the loop, well within the interval

    async def waiting_for_the_flush() -> None:
        batch.add(2)
        await until_async(lambda: len(handed) == 2)

    asyncio.run(closing_at_once())  # its end cancels the flusher, which hands item 1 over
    assert handed == [[1]]
    asyncio.run(waiting_for_the_flush())

    assert handed == [[1], [2]]


def test_items_of_a_loop_closed_without_ending_its_tasks_go_with_the_next_flush() -> None:
    batch, handed = recording(interval_s=0.05, max_items=3)
    first = asyncio.new_event_loop()

    async def add(*items: int) -> None:
        for item in items:
            batch.add(item)

    first.run_until_complete(add(1))
    first.close()  # its flusher never runs: not cancelled, only left behind
    # ...and is reported as "destroyed but pending" when collected: expected here, not shown.
    first.set_exception_handler(lambda loop, context: None)
    asyncio.run(add(2))
    assert handed == []  # waiting, not lost
    asyncio.run(add(3))  # a full batch

    assert handed == [[1, 2, 3]]


def test_what_waits_at_exit_is_handed_over() -> None:
    batch, handed = recording(interval_s=3600)

    async def scenario() -> None:
        batch.add(1)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(scenario())
    batching._flush_batches()  # what atexit runs
    loop.close()

    assert handed == [[1]]
