"""The heap keeper: after a snapshot swap, what survives is frozen out of the collector's way,
garbage is still collected, and a cycle that became garbage while frozen is reclaimed by the next
sweep."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from modelreg.public import gc_tuning as heap
from modelreg.public.gc_tuning import HeapKeeper


class Node:
    """An object that can be part of a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def frozen(obj: object) -> bool:
    """Tracked by the collector but in none of its three generations: in the permanent one."""
    assert gc.is_tracked(obj)
    return not any(any(o is obj for o in gc.get_objects(generation=g)) for g in range(3))


@pytest.fixture
def keeper() -> Iterator[HeapKeeper]:
    keeper = HeapKeeper()
    keeper.settle()  # the first settle sweeps
    try:
        yield keeper
    finally:
        gc.unfreeze()
        gc.collect()


def test_settle_freezes_what_is_alive(keeper: HeapKeeper) -> None:
    alive = Node()
    assert not frozen(alive)

    keeper.settle()

    assert frozen(alive)
    assert gc.get_freeze_count() > 0


def test_settle_collects_garbage_cycles_before_freezing(keeper: HeapKeeper) -> None:
    node, watch = cycle()
    del node

    keeper.settle()

    assert watch() is None


def test_frozen_objects_are_still_freed_by_reference_counting(keeper: HeapKeeper) -> None:
    node = Node()
    watch = weakref.ref(node)
    keeper.settle()
    assert frozen(node)

    del node

    assert watch() is None


def test_a_cycle_that_dies_frozen_waits_for_the_next_sweep(keeper: HeapKeeper) -> None:
    node, watch = cycle()
    keeper.settle()
    del node

    keeper.settle()  # no growth: collect and freeze only
    assert watch() is not None, "a frozen cycle is not walked until a sweep"
    sweeps = keeper.sweeps

    keeper.swept_at = 1  # as if the frozen heap had grown far past the last sweep
    keeper.settle()

    assert keeper.sweeps == sweeps + 1
    assert watch() is None
    assert keeper.swept_at > 1


def test_a_sweep_is_due_once_the_interval_has_passed(
    keeper: HeapKeeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, watch = cycle()
    keeper.settle()
    del node
    sweeps = keeper.sweeps

    monkeypatch.setattr(heap, "SWEEP_INTERVAL_S", 0.0)
    keeper.settle()

    assert keeper.sweeps == sweeps + 1
    assert watch() is None


def test_the_first_build_settles_before_the_collector_resumes() -> None:
    seen: list[bool] = []

    def make() -> list[Node]:
        seen.append(gc.isenabled())
        return [Node() for _ in range(1000)]

    keeper = HeapKeeper()
    try:
        built = keeper.build(make)

        assert seen == [False], "the build runs with the collector paused"
        assert gc.isenabled()
        assert keeper.settles == 1
        assert not keeper.pending
        assert frozen(built[0]), "what the build made is frozen before the collector resumes"
        assert gc.get_count()[0] < 1000, "nothing of the build is left young"
    finally:
        gc.unfreeze()
        gc.collect()


def test_disabled_keeper_freezes_nothing() -> None:
    gc.unfreeze()
    HeapKeeper(enabled=False).settle()
    assert gc.get_freeze_count() == 0


def test_paused_turns_the_collector_off_until_the_last_pause_ends() -> None:
    first, second = HeapKeeper(), HeapKeeper()
    assert gc.isenabled()

    with first.paused():
        assert not gc.isenabled()
        with second.paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the outer pause is still on"
    assert gc.isenabled()


def test_paused_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with HeapKeeper().paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_paused_ends_when_the_build_fails() -> None:
    with pytest.raises(RuntimeError), HeapKeeper().paused():
        raise RuntimeError("the build failed")
    assert gc.isenabled()


def test_disabled_keeper_does_not_pause_the_collector() -> None:
    with HeapKeeper(enabled=False).paused():
        assert gc.isenabled()


def test_a_later_build_leaves_its_settle_pending(keeper: HeapKeeper) -> None:
    """Writes (a reload each) do not pay for a settle: the build leaves it pending, and the
    pending settle, run later (by the store, once reloads pause), freezes what builds made."""
    settles = keeper.settles

    built = keeper.build(lambda: [Node() for _ in range(1000)])

    assert keeper.settles == settles
    assert keeper.pending
    assert gc.isenabled()
    assert not frozen(built[0])

    assert keeper.settle_pending()
    assert keeper.settles == settles + 1
    assert not keeper.pending
    assert frozen(built[0])
    assert not keeper.settle_pending(), "nothing left pending"
