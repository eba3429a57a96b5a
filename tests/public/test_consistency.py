"""A snapshot is one revision, whole: readers never see parts of two, however often it is replaced.

The writer records what every revision it commits set, so the description of each model at any
revision is known, and a snapshot holding anything from another revision than its own shows it.
Both ways a snapshot is made are exercised: from the whole catalog (after a change without an
audit event, made here with plain SQL stamping every model), and from the changed rows alone
(after changes through the service, each with its audit event).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from modelreg.audit import repository as audit_repository
from modelreg.audit.schemas import Actor
from modelreg.catalog import service as catalog_service
from modelreg.config import Settings, SnapshotSettings
from modelreg.db.engine import async_engine
from modelreg.db.urls import libpq_conninfo
from modelreg.public.repository import PriceHistory, read_catalog
from modelreg.public.schemas import ModelRow
from modelreg.public.snapshot import ChangeLog, Snapshot
from modelreg.public.store import SnapshotStore
from tests.fixtures.databases import Seeded

READERS = 4
REVISIONS = 20
BURST = 100
ACTOR = Actor(name="tests")
ACTIVE = "o3"

# revision -> the descriptions the change at that revision gave (model id -> description).
History = dict[int, dict[str, str]]


def stamp(revision: int) -> str:
    return f"revision {revision}"


def write_revision(url: URL) -> int:
    """One new revision made with plain SQL (no audit event: instances reload the whole catalog):
    the revision bumped and every model stamped with it, atomically."""
    with psycopg.connect(libpq_conninfo(url)) as conn:
        row = conn.execute(
            "UPDATE catalog_state SET revision = revision + 1 RETURNING revision"
        ).fetchone()
        assert row is not None
        revision = int(row[0])
        conn.execute(
            "UPDATE models SET meta = jsonb_set(meta, '{description}', to_jsonb(%s::text))",
            (stamp(revision),),
        )
    return revision


async def audited_write(engine: AsyncEngine, model_ids: Sequence[str], label: str) -> History:
    """Change models through the service, one transaction, one revision (and audit event) per
    model, as the admin API does; what each revision set."""
    written: History = {}
    async with AsyncSession(engine) as session, session.begin():
        for model_id in model_ids:
            text = f"{label}: {model_id}"
            await catalog_service.patch_model(
                session,
                model_id,
                {"meta": {"description": text}},
                ACTOR,
                if_match=None,
                reason=None,
            )
            written[await audit_repository.current_revision(session)] = {model_id: text}
    return written


def expected_at(history: History, revision: int) -> dict[str, str]:
    """Each model's description at `revision`, by the history of changes up to it."""
    state: dict[str, str] = {}
    for changed_at in sorted(history):
        if changed_at > revision:
            break
        state.update(history[changed_at])
    return state


def mixed_parts(snapshot: Snapshot, history: History) -> list[str]:
    """Every part of the snapshot that does not belong to its revision (empty when whole)."""
    revision = snapshot.view.revision
    expected = expected_at(history, revision)
    wrong: list[str] = []
    if snapshot.revision != revision:
        wrong.append(f"revision property {snapshot.revision}")
    if snapshot.etag != f'"{revision}"'.encode():
        wrong.append(f"etag {snapshot.etag!r}")
    listed: dict[str, Any] = json.loads(snapshot.list_all.body)
    if listed["revision"] != revision:
        wrong.append(f"list revision {listed['revision']}")
    if not listed["data"]:
        wrong.append("empty list")
    wrong += [
        f"list item {m['id']}: {m['description']!r}"
        for m in listed["data"]
        if m["description"] != expected[m["id"]]
    ]
    wrong += [
        f"model body {model_id}"
        for model_id, rendered in snapshot.models.items()
        if json.loads(rendered.body)["description"] != expected[model_id]
    ]
    wrong += [
        f"view {m.id}" for m in snapshot.view.models if m.body["description"] != expected[m.id]
    ]
    wrong += [f"change log entry {e}" for e in snapshot.changes.entries if e[0] > revision]
    return wrong


def store_for(engine: AsyncEngine) -> SnapshotStore:
    return SnapshotStore(engine=engine, settings=Settings(snapshot=SnapshotSettings()))


@asynccontextmanager
async def store_over(url: URL) -> AsyncIterator[SnapshotStore]:
    engine = async_engine(url)
    try:
        yield store_for(engine)
    finally:
        await engine.dispose()


async def read_while_writing(
    url: URL, write: Callable[[AsyncEngine, int, list[str]], Awaitable[History]]
) -> tuple[list[Snapshot], History, int]:
    """Readers take the current snapshot over and over while `write` commits REVISIONS times and
    reloads run back to back (direct and requested); every snapshot a reader held, or that was
    made current at all, is returned with what was written, and the final revision."""
    engine = async_engine(url)
    try:
        store = store_for(engine)
        held: dict[int, Snapshot] = {}  # by id(); holding them keeps the ids unique

        def hold() -> None:
            snapshot = store.current  # what one request holds from start to end
            assert snapshot is not None
            held.setdefault(id(snapshot), snapshot)

        store.after_reload.append(hold)  # every snapshot made current, however briefly
        first = write_revision(url)  # every model carries a known description from here on
        await store.reload()
        assert store.current is not None
        history: History = {first: {m.id: stamp(first) for m in store.current.view.models}}
        ids = [m.id for m in store.current.view.models]
        writing_done = asyncio.Event()
        stop_reading = asyncio.Event()

        async def reader() -> None:
            while not stop_reading.is_set():
                hold()
                await asyncio.sleep(0)
            hold()

        async def reloader() -> None:
            while not writing_done.is_set():
                store.request_reload()  # as on a NOTIFY
                await store.reload()  # as after an own write

        async def writer() -> None:
            for n in range(REVISIONS):
                history.update(await write(engine, n, ids))
            writing_done.set()

        readers = [asyncio.create_task(reader()) for _ in range(READERS)]
        reloading = asyncio.create_task(reloader())
        await writer()
        await reloading
        await store.wait_idle()
        await store.reload()
        stop_reading.set()
        await asyncio.gather(*readers)
        assert store.current is not None
        return list(held.values()), history, store.current.revision
    finally:
        await engine.dispose()


async def sql_write(engine: AsyncEngine, n: int, ids: list[str]) -> History:
    revision = await asyncio.to_thread(write_revision, engine.url)
    return {revision: dict.fromkeys(ids, stamp(revision))}


async def service_write(engine: AsyncEngine, n: int, ids: list[str]) -> History:
    # Two models per transaction, rotating through the catalog; most models stay unchanged.
    pair = [ids[(2 * n) % len(ids)], ids[(2 * n + 1) % len(ids)]]
    return await audited_write(engine, pair, f"write {n}")


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(sql_write, id="whole-catalog-reloads"),
        pytest.param(service_write, id="changed-rows-reloads"),
    ],
)
def test_readers_never_see_a_mix_of_two_revisions(
    seeded: Seeded, write: Callable[[AsyncEngine, int, list[str]], Awaitable[History]]
) -> None:
    held, history, final = asyncio.run(read_while_writing(seeded.url, write))

    problems = [f"r{s.revision}: {p}" for s in held for p in mixed_parts(s, history)]
    assert problems == []
    assert final == max(history)
    assert len({s.revision for s in held}) > 1, "readers must have read across swaps"


def reload_with_changes_committed_midway(
    url: URL, monkeypatch: pytest.MonkeyPatch, model_ids: Sequence[str], reloads: int
) -> tuple[list[Snapshot], History]:
    """`reloads` reloads of a new store; during the first, after its rows were read and before
    it finished, `model_ids` are changed through the service (one revision each)."""
    later: History = {}

    async def rows_then_concurrent_changes(
        conn: AsyncConnection,
    ) -> tuple[int, list[ModelRow], PriceHistory]:
        loaded = await read_catalog(conn)
        if not later:
            later.update(await audited_write(conn.engine, model_ids, "committed during a reload"))
        return loaded

    monkeypatch.setattr("modelreg.public.store.read_catalog", rows_then_concurrent_changes)

    async def scenario() -> list[Snapshot]:
        engine = async_engine(url)
        try:
            store = store_for(engine)
            return [await store.reload() for _ in range(reloads)]
        finally:
            await engine.dispose()

    snapshots = asyncio.run(scenario())
    assert later, "the concurrent changes were made"
    return snapshots, later


def test_a_snapshot_names_no_change_made_after_its_revision(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change committed while a whole-catalog reload runs belongs to the next snapshot, not to
    this one's change log."""
    [snapshot], later = reload_with_changes_committed_midway(
        seeded.url, monkeypatch, [ACTIVE], reloads=1
    )

    assert min(later) > snapshot.revision
    assert snapshot.changes.since(snapshot.revision) == ([], True)
    assert [e for e in snapshot.changes.entries if e[0] > snapshot.revision] == []


def test_changes_since_a_revision_stay_exact_after_changes_during_a_reload(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next snapshot, which serves those changes, names each once, in order: what changed
    after the first of them is the second alone."""
    (_, snapshot), later = reload_with_changes_committed_midway(
        seeded.url, monkeypatch, [ACTIVE, "gpt-5"], reloads=2
    )
    first, second = sorted(later)

    assert snapshot.revision == second
    assert snapshot.changes.since(first) == (["gpt-5"], True)
    assert list(snapshot.changes.entries) == sorted(set(snapshot.changes.entries))


def test_store_change_log_keeps_the_newest_changes_it_is_sized_for(seeded: Seeded) -> None:
    async def scenario() -> tuple[ChangeLog, list[int]]:
        engine = async_engine(seeded.url)
        try:
            store = SnapshotStore(
                engine=engine, settings=Settings(snapshot=SnapshotSettings(changes_retained=2))
            )
            await store.reload()
            written = await audited_write(engine, [ACTIVE, "gpt-5", "grok-4"], "retained")
            snapshot = await store.reload()
            return snapshot.changes, sorted(written)
        finally:
            await engine.dispose()

    log, (first, second, third) = asyncio.run(scenario())

    assert log.entries == ((second, "gpt-5"), (third, "grok-4"))
    assert log.since(first) == (["gpt-5", "grok-4"], True)
    assert log.since(second) == (["grok-4"], True)
    assert log.since(first - 1)[1] is False


def test_a_burst_of_reload_requests_is_coalesced_and_ends_at_the_latest_revision(
    seeded: Seeded,
) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with store_over(seeded.url) as store:
            await store.reload()
            before = store.reloads
            latest = 0
            for i in range(BURST):
                if i % 20 == 0:  # changes keep arriving during the burst
                    latest = write_revision(seeded.url)
                store.request_reload()
                await asyncio.sleep(0)
            await store.wait_idle()
            assert store.current is not None
            return store.reloads - before, store.current.revision, latest

    reloads, served, latest = asyncio.run(scenario())

    assert 1 <= reloads <= 10, reloads
    assert served == latest


def test_a_reload_request_after_the_burst_is_not_lost(seeded: Seeded) -> None:
    async def scenario() -> tuple[int, int]:
        async with store_over(seeded.url) as store:
            await store.reload()
            for _ in range(BURST):
                store.request_reload()
            await store.wait_idle()
            latest = write_revision(seeded.url)
            store.request_reload()
            await store.wait_idle()
            assert store.current is not None
            return store.current.revision, latest

    served, latest = asyncio.run(scenario())

    assert served == latest


# ChangeLog: what /v1/catalog/changes answers from.

LOG = ChangeLog(entries=((5, "a"), (6, "b"), (7, "a"), (9, "c")), complete_after=4)


@pytest.mark.parametrize(
    ("since", "changed"),
    [
        (4, ["a", "b", "c"]),
        (5, ["a", "b", "c"]),
        (6, ["a", "c"]),
        (7, ["c"]),
        (8, ["c"]),
        (9, []),
        (12, []),
    ],
)
def test_changelog_lists_each_id_changed_after_a_revision_within_its_window(
    since: int, changed: list[str]
) -> None:
    assert LOG.since(since) == (changed, True)


@pytest.mark.parametrize("since", [0, 3])
def test_changelog_before_its_window_is_incomplete(since: int) -> None:
    _, complete = LOG.since(since)

    assert complete is False


def test_changelog_trimmed_to_its_size_keeps_the_newest_and_moves_its_window() -> None:
    log = ChangeLog(entries=((1, "a"), (2, "b")), complete_after=0)

    trimmed = log.extended([(3, "c"), (4, "d")], keep=3)

    assert trimmed.entries == ((2, "b"), (3, "c"), (4, "d"))
    assert trimmed.complete_after == 1
    assert trimmed.since(1) == (["b", "c", "d"], True)
    assert trimmed.since(0)[1] is False
    assert trimmed.last_revision == 4


def test_changelog_within_its_size_is_not_trimmed() -> None:
    log = ChangeLog(entries=((1, "a"),), complete_after=0)

    extended = log.extended([(2, "b")], keep=2)

    assert extended == ChangeLog(entries=((1, "a"), (2, "b")), complete_after=0)
    assert extended.since(0) == (["a", "b"], True)


def test_empty_changelog_reports_its_window_start_as_last_revision() -> None:
    assert ChangeLog(complete_after=7).last_revision == 7
    assert ChangeLog(complete_after=7).since(7) == ([], True)
