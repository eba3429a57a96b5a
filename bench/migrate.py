"""Benchmark the `models` -> `meta JSONB` migration (0002_expand .. 0006_contract) against a
live writer: time per revision, ACCESS EXCLUSIVE locks, backfill batches, writer latency and
what it waits for, and whether the old columns and `meta` agree before the contract.

    .venv/bin/python bench/migrate.py [--rows N] [--batch-budget-ms MS] [--output FILE]

See bench/README.md for the options and how to read the results.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

import harness
from harness import Report, Summary, Target, fmt, fmt_ratio, log, one_line, ratio, rounded
from modelreg.config import get_settings
from modelreg.db import jsonb, migrate
from modelreg.db.legacy_sync import LEGACY_META_KEYS
from modelreg.db.urls import libpq_conninfo

Connection = psycopg.Connection[TupleRow]

REVISIONS: tuple[str, ...] = (
    "0002_expand",
    "0003_backfill",
    "0004_indexes",
    "0005_validate",
    "0006_contract",
)
BACKFILL_REVISION = "0003_backfill"
EXPAND_REVISION = "0002_expand"
CONTRACT_REVISION = "0006_contract"

# Targets: what a rollout against a live table must stay within.
TARGET_LOCK_MS = 50.0
TARGET_WRITER_P99_MS = 20.0
TARGET_WRITER_MAX_MS = 100.0

# Connections are told apart in pg_stat_activity by application_name.
MIGRATION_APP = "modelreg-bench-migration"
WRITER_APP = "modelreg-bench-writer"
MONITOR_APP = "modelreg-bench-lock-monitor"

WRITER_LOCK_TIMEOUT = "5s"
TIERS = ("free", "pro", "pro_max", "enterprise_pro", "enterprise_max", "perpetual")
CAPABILITY_SETS = (
    "{}",
    "{text}",
    "{text,vision}",
    "{text,code,function_calling}",
    "{text,vision,long_context,function_calling}",
)


# --------------------------------------------------------------------------------------------
# Synthetic legacy rows

LOAD_SQL = """
INSERT INTO models (
    id, name, display_name, provider, description, capabilities, context_length,
    max_output_tokens, input_cost_per_million_tokens, output_cost_per_million_tokens,
    credits_per_1k_tokens, is_available, is_deprecated, version, created_at, updated_at,
    required_tier, tier_restriction_mode, allowed_tiers
)
SELECT
    'model-' || lpad(g.i::text, 8, '0'),
    'model-' || g.i,
    'Model ' || g.i,
    (ARRAY['openai', 'anthropic', 'google', 'meta', 'mistral', 'cohere', 'xai'])[1 + g.i %% 7],
    CASE WHEN g.i %% 5 = 0 THEN NULL ELSE 'Synthetic model number ' || g.i END,
    CASE g.i %% 6
        WHEN 0 THEN NULL
        WHEN 1 THEN '{}'::model_capability[]
        WHEN 2 THEN '{text}'::model_capability[]
        WHEN 3 THEN '{text,vision}'::model_capability[]
        WHEN 4 THEN '{text,code,function_calling}'::model_capability[]
        ELSE '{text,vision,long_context,function_calling}'::model_capability[]
    END,
    (ARRAY[8192, 32768, 128000, 200000, 1000000])[1 + (g.i / 3) %% 5],
    CASE WHEN g.i %% 4 = 0 THEN NULL ELSE (ARRAY[1024, 4096, 8192])[1 + (g.i / 4) %% 3] END,
    10 + (g.i * 37) %% 5000,
    30 + (g.i * 53) %% 15000,
    1 + (g.i * 13) %% 50,
    g.i %% 17 <> 0,
    g.i %% 10 = 0,
    CASE WHEN g.i %% 3 = 0 THEN NULL ELSE (g.i %% 4)::text || '.' || (g.i %% 10)::text END,
    now() - (g.i %% 1000) * interval '1 hour',
    now() - (g.i %% 100) * interval '1 minute',
    (ARRAY['free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max', 'perpetual']
        )[1 + (g.i / 7) %% 6]::subscription_tier,
    CASE g.i %% 9 WHEN 0 THEN 'whitelist' WHEN 1 THEN 'exact' ELSE 'minimum' END,
    CASE g.i %% 9
        WHEN 0 THEN '{pro,enterprise_pro}'::subscription_tier[]
        WHEN 4 THEN '{free,pro,pro_max}'::subscription_tier[]
        WHEN 5 THEN '{enterprise_max}'::subscription_tier[]
        ELSE '{}'::subscription_tier[]
    END
FROM generate_series(1, %(rows)s) AS g(i)
"""


def loaded_id(i: int) -> str:
    return f"model-{i:08d}"


# --------------------------------------------------------------------------------------------
# The concurrent writer


class Mode(Enum):
    OLD_ONLY = "old columns only"
    MIXED = "old and new shape, alternating"
    NEW_ONLY = "meta only"


OLD_INSERT = """
INSERT INTO models (
    id, name, display_name, provider, description, capabilities, context_length,
    max_output_tokens, input_cost_per_million_tokens, output_cost_per_million_tokens,
    credits_per_1k_tokens, is_deprecated, version, required_tier, tier_restriction_mode,
    allowed_tiers
) VALUES (
    %s, %s, %s, %s, %s, %s::model_capability[], %s, %s, %s, %s, %s, %s, %s,
    %s::subscription_tier, %s, %s::subscription_tier[]
)
"""
OLD_PRICE = (
    "UPDATE models SET input_cost_per_million_tokens = %s, output_cost_per_million_tokens = %s,"
    " updated_at = now() WHERE id = %s"
)
OLD_DISPLAY_NAME = "UPDATE models SET display_name = %s, updated_at = now() WHERE id = %s"
OLD_DEPRECATE = (
    "UPDATE models SET is_deprecated = NOT is_deprecated, updated_at = now() WHERE id = %s"
)
OLD_MAX_OUTPUT = "UPDATE models SET max_output_tokens = %s, updated_at = now() WHERE id = %s"

# RETURNING tells whether the patch is in meta afterwards (see Writer.not_applied).
NEW_PATCH = (
    "UPDATE models SET meta = meta || %s::jsonb, updated_at = now() WHERE id = %s"
    " RETURNING meta @> %s::jsonb"
)
NEW_LEGACY = """
UPDATE models
   SET is_legacy = NOT is_legacy,
       meta = meta || jsonb_build_object(
           'deprecationNotice', CASE WHEN is_legacy THEN NULL ELSE %s::text END),
       updated_at = now()
 WHERE id = %s
RETURNING (meta -> 'deprecationNotice')
          = CASE WHEN is_legacy THEN to_jsonb(%s::text) ELSE 'null'::jsonb END
"""
NEW_INSERT = (
    "INSERT INTO models (id, name, provider, is_legacy, meta) VALUES (%s, %s, %s, false, %s::jsonb)"
)

OLD_KINDS: tuple[tuple[str, int], ...] = (
    ("old_insert", 1),
    ("old_price", 3),
    ("old_display_name", 2),
    ("old_deprecate", 1),
    ("old_max_output", 1),
)
NEW_KINDS: tuple[tuple[str, int], ...] = (
    ("new_insert", 1),
    ("new_price", 3),
    ("new_display_name", 2),
    ("new_notes", 1),
    ("new_legacy", 1),
)


@dataclass(frozen=True, slots=True)
class WriteSample:
    phase: str
    kind: str
    ms: float  # failed writes included


@dataclass(frozen=True)
class Statement:
    kind: str
    query: str
    params: tuple[Any, ...]
    # True when the statement RETURNs whether a meta patch took effect.
    checks_applied: bool = False


class Writer(harness.Worker):
    """One connection in autocommit mode, writing at a steady rate until stopped."""

    def __init__(self, conninfo: str, rows: int, rate: float, seed: int) -> None:
        super().__init__("writer")
        self.conninfo = conninfo
        self.rows = rows
        self.interval = 1 / rate if rate > 0 else 0.0
        self.rng = random.Random(seed)
        self.mode = Mode.OLD_ONLY
        self.phase = "baseline"
        self.samples: list[WriteSample] = []
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self.not_applied: Counter[tuple[str, str]] = Counter()
        self.inserted = 0
        self._pause_requested = threading.Event()
        self._paused = threading.Event()
        self._resume = threading.Event()

    # -- control, from the main thread

    def stop(self) -> None:
        self._resume.set()
        super().stop()

    def pause(self, timeout: float = 30.0) -> None:
        self._resume.clear()
        self._pause_requested.set()
        if not self._paused.wait(timeout) and self.is_alive():
            raise RuntimeError("the writer did not pause")

    def resume(self) -> None:
        self._pause_requested.clear()
        self._paused.clear()
        self._resume.set()

    # -- the loop

    def _connect(self) -> Connection:
        conn = psycopg.connect(self.conninfo, autocommit=True, application_name=WRITER_APP)
        conn.execute(f"SET lock_timeout = '{WRITER_LOCK_TIMEOUT}'")
        return conn

    def loop(self) -> None:
        conn = self._connect()
        try:
            next_at = time.perf_counter()
            count = 0
            while not self.stopping.is_set():
                if self._pause_requested.is_set():
                    self._paused.set()
                    self._resume.wait()
                    next_at = time.perf_counter()
                    continue
                statement = self._next(self.mode, count)
                phase = self.phase
                started = time.perf_counter()
                try:
                    cursor = conn.execute(statement.query, statement.params)
                    if statement.checks_applied:
                        row = cursor.fetchone()
                        if row is None or row[0] is not True:
                            self.not_applied[(phase, statement.kind)] += 1
                except psycopg.Error as exc:
                    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    self.errors[(phase, statement.kind, f"{exc.sqlstate or '-'} {message}")] += 1
                    if conn.broken or conn.closed:
                        conn = self._reconnect(conn)
                elapsed_ms = (time.perf_counter() - started) * 1000
                self.samples.append(WriteSample(phase, statement.kind, elapsed_ms))
                count += 1
                if self.interval:
                    next_at += self.interval
                    now = time.perf_counter()
                    if next_at > now:
                        time.sleep(next_at - now)
                    elif now - next_at > self.interval:
                        next_at = now  # fell behind: carry on at the rate, do not burst
        finally:
            conn.close()

    def _reconnect(self, conn: Connection) -> Connection:
        conn.close()
        while not self.stopping.is_set():
            try:
                return self._connect()
            except psycopg.Error:
                time.sleep(0.1)
        return conn

    # -- what to write

    def _pick(self, kinds: tuple[tuple[str, int], ...]) -> str:
        names = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        return self.rng.choices(names, weights)[0]

    def _next(self, mode: Mode, count: int) -> Statement:
        if mode is Mode.OLD_ONLY or (mode is Mode.MIXED and count % 2 == 0):
            return self._old(self._pick(OLD_KINDS))
        return self._new(self._pick(NEW_KINDS))

    def _random_id(self) -> str:
        return loaded_id(self.rng.randint(1, self.rows))

    def _new_id(self) -> str:
        self.inserted += 1
        return f"writer-{os.getpid()}-{self.inserted:08d}"

    def _old(self, kind: str) -> Statement:
        rng = self.rng
        if kind == "old_insert":
            new_id = self._new_id()
            mode = rng.choice(("minimum", "exact", "whitelist"))
            allowed = "{pro,enterprise_pro}" if mode == "whitelist" else "{}"
            params: tuple[Any, ...] = (
                new_id,
                new_id,
                f"Writer model {self.inserted}",
                rng.choice(("openai", "anthropic", "google")),
                rng.choice((None, "Inserted by the old writer")),
                rng.choice((None, *CAPABILITY_SETS)),
                rng.choice((8192, 128000, 200000)),
                rng.choice((None, 4096, 8192)),
                rng.randint(10, 5000),
                rng.randint(30, 15000),
                rng.randint(1, 50),
                rng.random() < 0.1,
                rng.choice((None, "1.0", "2.1")),
                rng.choice(TIERS),
                mode,
                allowed,
            )
            return Statement(kind, OLD_INSERT, params)
        if kind == "old_price":
            params = (rng.randint(10, 5000), rng.randint(30, 15000), self._random_id())
            return Statement(kind, OLD_PRICE, params)
        if kind == "old_display_name":
            return Statement(
                kind, OLD_DISPLAY_NAME, (f"Renamed {rng.randint(1, 10**6)}", self._random_id())
            )
        if kind == "old_deprecate":
            return Statement(kind, OLD_DEPRECATE, (self._random_id(),))
        if kind == "old_max_output":
            # NULL is what an old writer stores for "no limit known".
            value = rng.choice((None, 2048, 4096, 16384))
            return Statement(kind, OLD_MAX_OUTPUT, (value, self._random_id()))
        raise ValueError(kind)

    def _new(self, kind: str) -> Statement:
        rng = self.rng
        if kind == "new_insert":
            new_id = self._new_id()
            meta: dict[str, Any] = {
                "displayName": f"Writer model {self.inserted}",
                "description": "Inserted by the meta writer",
                "version": "1.0",
                "capabilities": ["text", "code"],
                "contextLength": 128000,
                "inputCostUsdPerMillionTokens": cents(rng.randint(10, 5000)),
                "outputCostUsdPerMillionTokens": cents(rng.randint(30, 15000)),
                "creditsPer1kTokens": rng.randint(1, 50),
                "requiredTier": rng.choice(TIERS),
                "tierRestrictionMode": "minimum",
                "allowedTiers": [],
                "legacyReplacementModelId": None,
                "deprecationNotice": None,
                "sunsetDate": None,
                "providerMetadata": {},
                "internalNotes": "",
                "complianceTags": [],
            }
            if rng.random() < 0.5:
                meta["maxOutputTokens"] = 8192
            return Statement(kind, NEW_INSERT, (new_id, new_id, "anthropic", jsonb.dumps(meta)))
        if kind == "new_legacy":
            notice = "Superseded by a newer model."
            return Statement(kind, NEW_LEGACY, (notice, self._random_id(), notice), True)
        patch: dict[str, Any]
        if kind == "new_price":
            patch = {
                "inputCostUsdPerMillionTokens": cents(rng.randint(10, 5000)),
                "outputCostUsdPerMillionTokens": cents(rng.randint(30, 15000)),
            }
        elif kind == "new_display_name":
            patch = {"displayName": f"Renamed via meta {rng.randint(1, 10**6)}"}
        elif kind == "new_notes":
            patch = {"internalNotes": f"note {rng.randint(1, 10**6)}", "complianceTags": ["soc2"]}
        else:
            raise ValueError(kind)
        text = jsonb.dumps(patch)
        return Statement(kind, NEW_PATCH, (text, self._random_id(), text), True)


def cents(value: int) -> Decimal:
    """Whole cents as dollars: exactly what the legacy integer column can hold."""
    return Decimal(value).scaleb(-2)


# --------------------------------------------------------------------------------------------
# The ACCESS EXCLUSIVE lock monitor

LOCK_QUERY = """
SELECT l.pid, l.virtualtransaction, l.granted,
       coalesce(a.backend_type, ''), coalesce(a.application_name, ''), coalesce(a.query, ''),
       CASE WHEN l.granted THEN NULL ELSE (
           SELECT array_agg(b.backend_type || ' (pid ' || b.pid || '): '
                            || left(coalesce(b.query, ''), 200))
             FROM pg_stat_activity b
            WHERE b.pid = ANY (pg_blocking_pids(l.pid))
       ) END
  FROM pg_locks l
  LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation'
   AND l.mode = 'AccessExclusiveLock'
   AND l.database = %s
   AND l.relation = %s
"""


# What a write that has been running for a while is waiting for.
WRITER_WAIT_QUERY = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'),
       (SELECT string_agg(DISTINCT b.backend_type || ': ' || left(coalesce(b.query, ''), 80), ' / ')
          FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(a.pid)))
  FROM pg_stat_activity a
 WHERE a.application_name = %s AND a.state = 'active'
   AND clock_timestamp() - a.query_start > interval '5 ms'
"""


@dataclass
class LockSighting:
    """One transaction's ACCESS EXCLUSIVE lock on `models`, granted or waited for."""

    phase: str
    pid: int
    vxid: str
    granted: bool
    backend_type: str
    application_name: str
    first_seen: float
    last_seen: float
    poll_before: float
    poll_after: float | None = None
    statements: list[str] = field(default_factory=list)
    # For a lock waited for: who held it up (pg_blocking_pids).
    blockers: list[str] = field(default_factory=list)

    @property
    def observed_ms(self) -> float:
        """First to last poll that saw it: a lower bound of how long it lasted."""
        return (self.last_seen - self.first_seen) * 1000

    @property
    def bound_ms(self) -> float:
        """From the poll before it was first seen to the poll after it was last seen."""
        end = self.poll_after if self.poll_after is not None else self.last_seen
        return (end - self.poll_before) * 1000

    @property
    def by_migration(self) -> bool:
        return self.application_name == MIGRATION_APP

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "pid": self.pid,
            "granted": self.granted,
            "backend_type": self.backend_type,
            "application_name": self.application_name,
            "observed_ms": round(self.observed_ms, 3),
            "upper_bound_ms": round(self.bound_ms, 3),
            "statements": self.statements,
            "blockers": self.blockers,
        }


class LockMonitor(harness.Worker):
    """Polls pg_locks for AccessExclusiveLock on `models` every `interval` seconds, and what
    the writer's slow writes wait for."""

    def __init__(self, conninfo: str, database_oid: int, table_oid: int, interval: float) -> None:
        super().__init__("lock-monitor")
        self.conninfo = conninfo
        self.database_oid = database_oid
        self.table_oid = table_oid
        self.interval = interval
        self.phase = "baseline"
        self.sightings: list[LockSighting] = []
        self.poll_gaps_ms: list[float] = []
        self.polls = 0
        self.writer_waits: Counter[tuple[str, str, str]] = Counter()

    def loop(self) -> None:
        active: dict[tuple[int, str, bool], LockSighting] = {}
        previous: float | None = None
        params = (self.database_oid, self.table_oid)
        with psycopg.connect(self.conninfo, autocommit=True, application_name=MONITOR_APP) as conn:
            while not self.stopping.is_set():
                started = time.perf_counter()
                rows = conn.execute(LOCK_QUERY, params, prepare=True).fetchall()
                now = (started + time.perf_counter()) / 2
                self.polls += 1
                if previous is not None:
                    self.poll_gaps_ms.append((now - previous) * 1000)
                seen: set[tuple[int, str, bool]] = set()
                for pid, vxid, granted, backend_type, app, query, blockers in rows:
                    key = (int(pid), str(vxid), bool(granted))
                    seen.add(key)
                    sighting = active.get(key)
                    if sighting is None:
                        sighting = LockSighting(
                            phase=self.phase,
                            pid=key[0],
                            vxid=key[1],
                            granted=key[2],
                            backend_type=str(backend_type),
                            application_name=str(app),
                            first_seen=now,
                            last_seen=now,
                            poll_before=previous if previous is not None else now,
                        )
                        active[key] = sighting
                    else:
                        sighting.last_seen = now
                    statement = one_line(str(query))
                    if statement and statement not in sighting.statements:
                        sighting.statements.append(statement)
                    for blocker in blockers or ():
                        text = one_line(str(blocker))
                        if text not in sighting.blockers:
                            sighting.blockers.append(text)
                for event, blockers in conn.execute(WRITER_WAIT_QUERY, (WRITER_APP,), prepare=True):
                    self.writer_waits[
                        (self.phase, str(event), one_line(str(blockers or ""), 120))
                    ] += 1
                for key in [k for k in active if k not in seen]:
                    done = active.pop(key)
                    done.poll_after = now
                    self.sightings.append(done)
                previous = now
                pause = self.interval - (time.perf_counter() - started)
                if pause > 0:
                    time.sleep(pause)
        self.sightings.extend(active.values())


# --------------------------------------------------------------------------------------------
# Sync check: do the old columns and meta say the same thing?


def _key_differs(key: str) -> str:
    """Old columns and meta disagree on `key`; a JSON null counts as an absent key."""
    return f"nullif(r.cols -> '{key}', 'null') IS DISTINCT FROM nullif(m.meta -> '{key}', 'null')"


def _row_key_differs(key: str) -> str:
    """The comparison restricted to the keys `modelreg_row_to_meta` returns for the row, i.e.
    `row_to_meta(m) <> (SELECT jsonb_object_agg(k, meta -> k) FROM jsonb_object_keys(...) k)`:
    blind to a key meta has and the row mapping leaves out (maxOutputTokens when NULL)."""
    return (
        f"(r.cols ? '{key}'"
        f" AND r.cols -> '{key}' IS DISTINCT FROM coalesce(m.meta -> '{key}', 'null'))"
    )


_ANY_KEY_DIFFERS = " OR ".join(_key_differs(k) for k in LEGACY_META_KEYS)
_FLAG_DIFFERS = "m.is_legacy IS DISTINCT FROM m.is_deprecated"

# One scan; the row mapping is computed once per row (OFFSET 0 keeps it from being inlined into
# every comparison).
SYNC_SQL = (
    "SELECT count(*),"
    " count(*) FILTER (WHERE m.meta IS NULL),"
    f" count(*) FILTER (WHERE {_FLAG_DIFFERS}),"
    f" count(*) FILTER (WHERE {_ANY_KEY_DIFFERS}),"
    f" count(*) FILTER (WHERE {' OR '.join(_row_key_differs(k) for k in LEGACY_META_KEYS)}),"
    f" count(*) FILTER (WHERE m.meta IS NULL OR {_FLAG_DIFFERS} OR {_ANY_KEY_DIFFERS}),"
    + ", ".join(
        f"count(*) FILTER (WHERE {_key_differs(k)}), min(m.id) FILTER (WHERE {_key_differs(k)})"
        for k in LEGACY_META_KEYS
    )
    + " FROM models m CROSS JOIN LATERAL (SELECT modelreg_row_to_meta(m) AS cols OFFSET 0) r"
)

SYNC_EXAMPLE_SQL = (
    "SELECT modelreg_row_to_meta(m) -> %(key)s, m.meta -> %(key)s FROM models m WHERE m.id = %(id)s"
)


@dataclass
class SyncReport:
    rows: int
    meta_null: int
    flag_differs: int
    keys_differ: int
    row_keys_differ: int
    out_of_sync: int
    seconds: float
    by_key: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "out_of_sync": self.out_of_sync,
            "meta_null": self.meta_null,
            "is_legacy_differs_from_is_deprecated": self.flag_differs,
            "legacy_keys_differ": self.keys_differ,
            "row_to_meta_keys_differ": self.row_keys_differ,
            "seconds": round(self.seconds, 3),
            "by_key": self.by_key,
        }


def check_sync(conn: Connection) -> SyncReport:
    started = time.perf_counter()
    row = conn.execute(SYNC_SQL).fetchone()
    assert row is not None
    total, meta_null, flag_differs, keys_differ, row_keys_differ, out_of_sync = map(int, row[:6])
    report = SyncReport(
        rows=total,
        meta_null=meta_null,
        flag_differs=flag_differs,
        keys_differ=keys_differ,
        row_keys_differ=row_keys_differ,
        out_of_sync=out_of_sync,
        seconds=0.0,
    )
    per_key = row[6:]
    for i, key in enumerate(LEGACY_META_KEYS):
        count, example = int(per_key[2 * i]), per_key[2 * i + 1]
        if not count:
            continue
        pair = conn.execute(SYNC_EXAMPLE_SQL, {"key": key, "id": example}).fetchone()
        columns_say, meta_says = pair if pair is not None else (None, None)
        report.by_key.append(
            {
                "key": key,
                "rows": count,
                "example_id": example,
                "columns_say": columns_say,
                "meta_says": meta_says,
            }
        )
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------------------------
# The run


class BatchTimer:
    """The backfill's progress callback: called once after every batch."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []  # (when, rows scanned so far)

    def __call__(self, scanned: int, total: int) -> None:
        self.marks.append((time.perf_counter(), scanned))
        if len(self.marks) % 100 == 0:
            log(f"  backfill {scanned:,}/{total:,}")

    @property
    def scanned(self) -> int:
        return self.marks[-1][1] if self.marks else 0

    def batches(self) -> list[tuple[float, int]]:
        """(ms, rows) of each batch. Between two callbacks lies exactly one batch; the first is
        left out, since its start (after Alembic's setup and the backfill's count) is not
        reported."""
        pairs = itertools.pairwise(self.marks)
        return [((b - a) * 1000, n - m) for (a, m), (b, n) in pairs]


@dataclass
class Results:
    rows: int
    server_version: str
    batch_size: int
    batch_budget_ms: int
    lock_timeout_ms: int
    load_seconds: float = 0.0
    baseline_revision_seconds: float = 0.0
    table_mb_before: float = 0.0
    table_mb_after: float = 0.0
    final_rows: int = 0
    select1: Summary = field(default_factory=lambda: Summary.of([]))
    revision_seconds: dict[str, float] = field(default_factory=dict)
    backfill_batches: list[tuple[float, int]] = field(default_factory=list)
    backfill_scanned: int = 0
    sync: SyncReport | None = None
    writes: list[WriteSample] = field(default_factory=list)
    write_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    not_applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    sightings: list[LockSighting] = field(default_factory=list)
    poll_gaps_ms: list[float] = field(default_factory=list)
    writer_waits: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    total_seconds: float = 0.0
    final_revision: str | None = None


class Bench:
    def __init__(self, args: argparse.Namespace, url: URL) -> None:
        self.args = args
        self.url = url
        # Alembic connects with this name, so the lock monitor can tell its locks apart.
        self.migration_url = url.update_query_dict({"application_name": MIGRATION_APP})
        self.conninfo = libpq_conninfo(url)

    def run(self) -> Results:
        args = self.args
        settings = get_settings().migration
        t0 = time.perf_counter()
        log(f"upgrade to {migrate.BASELINE}")
        migrate.upgrade(self.migration_url, migrate.BASELINE)
        baseline_seconds = time.perf_counter() - t0

        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            results = Results(
                rows=args.rows,
                server_version=str(scalar_row(conn, "SHOW server_version")[0]),
                batch_size=settings.backfill_batch_size,
                batch_budget_ms=settings.backfill_batch_budget_ms,
                lock_timeout_ms=settings.lock_timeout_ms,
                baseline_revision_seconds=baseline_seconds,
            )
            log(f"load {args.rows:,} legacy rows")
            started = time.perf_counter()
            conn.execute(LOAD_SQL, {"rows": args.rows})
            # VACUUM too: a live table is vacuumed, and an autovacuum of the fresh load would
            # otherwise start in the middle of the measurement.
            conn.execute("VACUUM (ANALYZE) models")
            results.load_seconds = time.perf_counter() - started
            results.table_mb_before = table_mb(conn)
            database_oid, table_oid = scalar_row(
                conn,
                "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()),"
                " 'models'::regclass::oid",
            )
            results.select1 = measure_select1(conn, args.select1_samples)

            monitor = LockMonitor(
                self.conninfo, int(database_oid), int(table_oid), args.poll_ms / 1000
            )
            writer = Writer(self.conninfo, args.rows, args.writer_rate, args.seed)
            monitor.start()
            writer.start()
            try:
                self._migrate(conn, results, writer, monitor)
            finally:
                writer.stop()
                monitor.stop()
            writer.check()
            monitor.check()

            results.writes = writer.samples
            results.write_errors = writer.errors
            results.not_applied = writer.not_applied
            results.sightings = sorted(monitor.sightings, key=lambda s: s.first_seen)
            results.poll_gaps_ms = monitor.poll_gaps_ms
            results.writer_waits = monitor.writer_waits
            results.final_rows = int(scalar_row(conn, "SELECT count(*) FROM models")[0])
            results.table_mb_after = table_mb(conn)
        results.final_revision = migrate.current_revision(self.url)
        results.total_seconds = time.perf_counter() - t0
        return results

    def _migrate(
        self, conn: Connection, results: Results, writer: Writer, monitor: LockMonitor
    ) -> None:
        def phase(name: str) -> None:
            writer.phase = monitor.phase = name

        log(f"writer baseline for {self.args.baseline_seconds:g} s (no migration running)")
        time.sleep(self.args.baseline_seconds)
        for revision in REVISIONS:
            if revision == CONTRACT_REVISION:
                # A real rollout retires the old writers before the contract: check the two
                # shapes agree with the writer paused, then let it go on writing meta only.
                phase("sync-check")
                writer.pause()
                log("sync check (writer paused)")
                results.sync = check_sync(conn)
                writer.mode = Mode.NEW_ONLY
                writer.resume()
            phase(revision)
            timer = BatchTimer() if revision == BACKFILL_REVISION else None
            log(f"upgrade to {revision}")
            started = time.perf_counter()
            migrate.upgrade(self.migration_url, revision, progress=timer)
            results.revision_seconds[revision] = time.perf_counter() - started
            if timer is not None:
                results.backfill_batches = timer.batches()
                results.backfill_scanned = timer.scanned
            if revision == EXPAND_REVISION:
                writer.mode = Mode.MIXED
        phase("after")
        log(f"writer at head for {self.args.baseline_seconds:g} s (no migration running)")
        time.sleep(self.args.baseline_seconds)


def scalar_row(conn: Connection, query: str) -> tuple[Any, ...]:
    row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def table_mb(conn: Connection) -> float:
    return int(scalar_row(conn, "SELECT pg_total_relation_size('models')")[0]) / 2**20


def measure_select1(conn: Connection, samples: int) -> Summary:
    latencies, _ = harness.timed(lambda i: conn.execute("SELECT 1", prepare=True), samples, 60)
    return Summary.of(latencies)


# --------------------------------------------------------------------------------------------
# Figures

PHASES: tuple[str, ...] = ("baseline", *REVISIONS[:-1], "sync-check", REVISIONS[-1], "after")
PHASE_NAMES = {
    "baseline": "writer baseline (before 0002)",
    "sync-check": "sync check (writer paused)",
    "after": "writer at head (after 0006)",
}


def _longest(sightings: Sequence[LockSighting | None]) -> LockSighting | None:
    present = [s for s in sightings if s is not None]
    return max(present, key=lambda s: (s.observed_ms, s.bound_ms), default=None)


def _counts(counter: Counter[Any]) -> Counter[str]:
    """A counter keyed by (phase, ...) summed per phase."""
    out: Counter[str] = Counter()
    for key, n in counter.items():
        out[key[0]] += n
    return out


class Figures:
    """Everything derived from a run, for the report and the JSON."""

    def __init__(self, r: Results) -> None:
        self.results = r
        by_phase: dict[str, list[float]] = {p: [] for p in PHASES}
        by_kind: dict[str, list[float]] = {}
        for w in r.writes:
            by_phase.setdefault(w.phase, []).append(w.ms)
            by_kind.setdefault(w.kind, []).append(w.ms)
        self.writer_by_phase = {p: Summary.of(v) for p, v in by_phase.items()}
        self.writer_by_kind = {k: Summary.of(v) for k, v in sorted(by_kind.items())}
        self.writer_all = Summary.of([w.ms for w in r.writes])
        self.writer_baseline = self.writer_by_phase["baseline"]
        self.writer_after = self.writer_by_phase["after"]
        self.errors_by_phase = _counts(r.write_errors)
        self.not_applied_by_phase = _counts(r.not_applied)
        self.backfill = Summary.of([ms for ms, _ in r.backfill_batches])
        self.batch_rows = Summary.of([float(n) for _, n in r.backfill_batches])
        self.batch_rows_min = min((n for _, n in r.backfill_batches), default=None)
        mine = [s for s in r.sightings if s.by_migration]
        self.longest_hold = {
            p: _longest([s for s in mine if s.granted and s.phase == p]) for p in PHASES
        }
        self.longest_wait = {
            p: _longest([s for s in mine if not s.granted and s.phase == p]) for p in PHASES
        }
        self.other_holds = [s for s in r.sightings if s.granted and not s.by_migration]

    def p99_ratio(self, summary: Summary) -> float | None:
        return ratio(summary.p99_ms, self.writer_baseline.p99_ms)

    def targets(self) -> list[Target]:
        r = self.results
        hold = _longest(list(self.longest_hold.values()))
        hold_ms = hold.observed_ms if hold is not None else 0.0
        w = self.writer_all
        worst = max(r.writes, key=lambda x: x.ms, default=None)
        batch_p99 = self.backfill.p99_ms
        out_of_sync = None if r.sync is None else r.sync.out_of_sync
        return [
            Target(
                f"every ACCESS EXCLUSIVE hold on models < {TARGET_LOCK_MS:g} ms",
                f"{fmt(hold_ms)} ms" + (f" ({hold.phase})" if hold is not None else ""),
                hold_ms < TARGET_LOCK_MS,
            ),
            Target(
                f"backfill batch p99 < {r.batch_budget_ms} ms (the batch budget)",
                f"{fmt(batch_p99)} ms over {self.backfill.count:,} batches",
                None if batch_p99 is None else batch_p99 < r.batch_budget_ms,
            ),
            Target(
                f"writer p99 < {TARGET_WRITER_P99_MS:g} ms",
                f"{fmt(w.p99_ms)} ms ({fmt_ratio(self.p99_ratio(w))} the baseline p99)",
                w.p99_ms is not None and w.p99_ms < TARGET_WRITER_P99_MS,
            ),
            Target(
                f"writer max < {TARGET_WRITER_MAX_MS:g} ms",
                f"{fmt(w.max_ms)} ms" + (f" ({worst.phase}, {worst.kind})" if worst else ""),
                w.max_ms is not None and w.max_ms < TARGET_WRITER_MAX_MS,
            ),
            Target(
                "rows out of sync before 0006_contract = 0",
                "not checked" if out_of_sync is None else f"{out_of_sync:,}",
                out_of_sync == 0,
            ),
        ]

    def as_dict(self, args: argparse.Namespace) -> dict[str, Any]:
        r = self.results

        def sighting(s: LockSighting | None) -> dict[str, Any] | None:
            return None if s is None else s.as_dict()

        return {
            "benchmark": "migrate",
            "rows": r.rows,
            "final_rows": r.final_rows,
            "server": {"version": r.server_version},
            "settings": {
                "backfill_batch_size": r.batch_size,
                "backfill_batch_budget_ms": r.batch_budget_ms,
                "lock_timeout_ms": r.lock_timeout_ms,
                "writer_rate_per_s": args.writer_rate,
                "writer_lock_timeout": WRITER_LOCK_TIMEOUT,
                "lock_poll_interval_ms": args.poll_ms,
            },
            "total_seconds": round(r.total_seconds, 3),
            "load_seconds": round(r.load_seconds, 3),
            "table_mb": {
                "before": round(r.table_mb_before, 1),
                "after": round(r.table_mb_after, 1),
            },
            "final_revision": r.final_revision,
            "reference": {
                "select1": r.select1.as_dict(),
                "writer_baseline": self.writer_baseline.as_dict(),
                "writer_after": self.writer_after.as_dict(),
            },
            "revisions": {
                migrate.BASELINE: {"seconds": round(r.baseline_revision_seconds, 3)},
                **{
                    rev: {
                        "seconds": rounded(r.revision_seconds.get(rev)),
                        "longest_access_exclusive": sighting(self.longest_hold[rev]),
                        "longest_access_exclusive_wait": sighting(self.longest_wait[rev]),
                        "writer": self.writer_by_phase[rev].as_dict(),
                        "writer_p99_ratio": rounded(self.p99_ratio(self.writer_by_phase[rev])),
                        "writer_errors": self.errors_by_phase[rev],
                        "meta_writes_not_applied": self.not_applied_by_phase[rev],
                    }
                    for rev in REVISIONS
                },
            },
            "backfill": {
                **self.backfill.as_dict(),
                "scanned": r.backfill_scanned,
                "batch_rows": {
                    "p50": self.batch_rows.p50_ms,
                    "min": self.batch_rows_min,
                    "max": self.batch_rows.max_ms,
                },
                "batch_ms": [round(ms, 3) for ms, _ in r.backfill_batches],
                "batch_sizes": [n for _, n in r.backfill_batches],
            },
            "writer": {
                **self.writer_all.as_dict(),
                "p99_ratio_to_baseline": rounded(self.p99_ratio(self.writer_all)),
                "by_phase": {p: s.as_dict() for p, s in self.writer_by_phase.items()},
                "by_kind": {k: s.as_dict() for k, s in self.writer_by_kind.items()},
                "errors": sum(r.write_errors.values()),
                "error_detail": [
                    {"phase": p, "kind": k, "error": e, "count": n}
                    for (p, k, e), n in sorted(r.write_errors.items())
                ],
                "meta_writes_not_applied": [
                    {"phase": p, "kind": k, "count": n}
                    for (p, k), n in sorted(r.not_applied.items())
                ],
                "waits": [
                    {"phase": p, "wait": w, "blockers": b, "polls": n}
                    for (p, w, b), n in r.writer_waits.most_common()
                ],
            },
            "sync_before_contract": None if r.sync is None else r.sync.as_dict(),
            "lock_monitor": {
                "polls": len(r.poll_gaps_ms) + 1,
                "poll_gap": Summary.of(r.poll_gaps_ms).as_dict(),
                "sightings": [s.as_dict() for s in r.sightings],
            },
        }


def wait_text(wait: LockSighting | None) -> str:
    if wait is None:
        return "—"
    kinds = sorted({b.split(" (pid")[0] for b in wait.blockers})
    return fmt(wait.observed_ms) + (f" (behind {', '.join(kinds)})" if kinds else "")


def render(f: Figures, args: argparse.Namespace, env: dict[str, Any]) -> Report:
    r = f.results
    gaps = Summary.of(r.poll_gaps_ms)
    report = Report(f"Migration benchmark: {r.rows:,} rows")
    report.text(
        f"PostgreSQL {r.server_version} ({env['database']}), {env['cpus']} CPUs; backfill"
        f" batches of at most {r.batch_size:,} rows, budget {r.batch_budget_ms} ms; migration"
        f" lock_timeout {r.lock_timeout_ms} ms; writer {fmt(args.writer_rate, 0)} writes/s"
        f" target, lock_timeout {WRITER_LOCK_TIMEOUT}; lock poll gap p50 {fmt(gaps.p50_ms, 2)}"
        f" ms, max {fmt(gaps.max_ms, 1)} ms; total {fmt(r.total_seconds)} s; table"
        f" {fmt(r.table_mb_before, 0)} MB → {fmt(r.table_mb_after, 0)} MB; final revision"
        f" {r.final_revision}; load average {env['load_before']} before, {env['load_after']}"
        " after."
    )
    report.section("Reference (same run, no migration running)")
    report.table(
        ["reference", "n", "p50 ms", "p99 ms", "max ms"],
        [
            [name, f"{s.count:,}", *s.cells()]
            for name, s in (
                ("`SELECT 1` round trip", r.select1),
                ("writer before 0002 (old columns, no trigger)", f.writer_baseline),
                ("writer at head (meta only)", f.writer_after),
            )
        ],
    )
    report.section("Per revision")
    none = ["—"] * 10
    rows = [
        [f"load {r.rows:,} rows + VACUUM ANALYZE", fmt(r.load_seconds, 2), *none],
        [f"{migrate.BASELINE} (creates the table)", fmt(r.baseline_revision_seconds, 2), *none],
    ]
    for phase in PHASES:
        s, hold = f.writer_by_phase[phase], f.longest_hold[phase]
        seconds = r.revision_seconds.get(phase)
        if phase == "sync-check" and r.sync is not None:
            seconds = r.sync.seconds
        rows.append(
            [
                PHASE_NAMES.get(phase, phase),
                fmt(seconds, 2),
                "none seen" if hold is None else f"{fmt(hold.observed_ms)} ({fmt(hold.bound_ms)})",
                "" if hold is None else one_line(" → ".join(hold.statements) or "?", 70),
                wait_text(f.longest_wait[phase]),
                f"{s.count:,}",
                *s.cells(),
                fmt_ratio(f.p99_ratio(s)),
                f"{f.errors_by_phase[phase]:,}",
                f"{f.not_applied_by_phase[phase]:,}",
            ]
        )
    report.table(
        "step | time s | longest ACCESS EXCLUSIVE hold ms (poll bound) | held during"
        " | longest wait for it ms | writes | writer p50 ms | p99 ms | max ms | p99 ÷ base"
        " | errors | meta writes not applied",
        rows,
    )
    report.section("Summary")
    w, b = f.writer_all, f.backfill
    longest_wait = _longest(list(f.longest_wait.values()))
    summary = [
        ("rows loaded", f"{r.rows:,}"),
        ("rows at the end (loaded + writer inserts)", f"{r.final_rows:,}"),
        ("0002..0006 total time s", fmt(sum(r.revision_seconds.values()), 2)),
        (
            "backfill batches (timed) / p50 / p99 / max ms",
            f"{b.count:,} / {fmt(b.p50_ms)} / {fmt(b.p99_ms)} / {fmt(b.max_ms)}",
        ),
        (
            "backfill batch rows p50 / min / max",
            " / ".join(
                fmt(v, 0) for v in (f.batch_rows.p50_ms, f.batch_rows_min, f.batch_rows.max_ms)
            ),
        ),
        (
            "longest wait of the migration for ACCESS EXCLUSIVE ms (writers queue behind it)",
            "—" if longest_wait is None else f"{wait_text(longest_wait)}, {longest_wait.phase}",
        ),
        ("writer writes", f"{w.count:,}"),
        ("writer p50 / p99 / max ms", " / ".join(w.cells())),
        ("writer p99 ÷ baseline p99", fmt_ratio(f.p99_ratio(w))),
        ("writer p99 ÷ `SELECT 1` p50", fmt_ratio(ratio(w.p99_ms, r.select1.p50_ms))),
        ("writer errors", f"{sum(r.write_errors.values()):,}"),
        ("meta writes not applied", f"{sum(r.not_applied.values()):,}"),
    ]
    if r.sync is not None:
        summary += [
            ("rows out of sync before 0006", f"{r.sync.out_of_sync:,}"),
            ("  legacy keys differ (null = absent)", f"{r.sync.keys_differ:,}"),
            ("  differ on the keys of `modelreg_row_to_meta`", f"{r.sync.row_keys_differ:,}"),
            ("  is_legacy ≠ is_deprecated", f"{r.sync.flag_differs:,}"),
            ("  meta IS NULL", f"{r.sync.meta_null:,}"),
        ]
    report.table(["figure", "value"], [list(x) for x in summary])
    report.add_targets(f.targets())
    if r.sync is not None and r.sync.by_key:
        report.section("Out-of-sync rows by key (before 0006)")
        report.table(
            ["meta key", "rows", "example id", "old columns say", "meta says"],
            [
                [
                    x["key"],
                    f"{x['rows']:,}",
                    str(x["example_id"]),
                    one_line(json.dumps(x["columns_say"]), 40),
                    one_line(json.dumps(x["meta_says"]), 40),
                ]
                for x in r.sync.by_key
            ],
        )
    long_waits = [x for x in r.sightings if not x.granted and x.observed_ms >= 10]
    if long_waits:
        report.section("Waits for ACCESS EXCLUSIVE on models of 10 ms or more")
        report.table(
            ["phase", "waiter", "waited ms (poll bound)", "waiting statement", "held up by"],
            [
                [
                    x.phase,
                    x.application_name or x.backend_type,
                    f"{fmt(x.observed_ms)} ({fmt(x.bound_ms)})",
                    one_line(" → ".join(x.statements) or "?", 60),
                    one_line(" / ".join(x.blockers) or "?", 90),
                ]
                for x in long_waits
            ],
        )
    if r.writer_waits:
        report.section("What writes running 5 ms or more waited for (one count per lock poll)")
        report.table(
            ["phase", "wait event", "polls", "held up by"],
            [[p, e, f"{n:,}", b or "—"] for (p, e, b), n in r.writer_waits.most_common(15)],
        )
    if r.write_errors:
        report.section("Writer errors")
        report.table(
            ["phase", "write", "error", "count"],
            [[p, k, one_line(e, 100), f"{n:,}"] for (p, k, e), n in sorted(r.write_errors.items())],
        )
    if r.not_applied:
        report.section(
            "Meta writes that did not stick (`meta || patch` on a row whose meta was NULL)"
        )
        report.table(
            ["phase", "write", "count"],
            [[p, k, f"{n:,}"] for (p, k), n in sorted(r.not_applied.items())],
        )
    longest = _longest(f.other_holds)
    if longest is not None:
        report.text(
            f"ACCESS EXCLUSIVE on models by other backends: {len(f.other_holds)},"
            f" longest {fmt(longest.observed_ms)} ms ({longest.backend_type},"
            f" {longest.phase}: {one_line(' → '.join(longest.statements) or '?', 70)})."
        )
    return report


# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.arguments(__doc__)
    add = parser.add_argument
    add("--rows", type=int, default=1_000_000, help="legacy rows to load")
    add("--batch-size", type=int, help="largest backfill batch (default: the configured one)")
    add("--batch-budget-ms", type=int, help="backfill batch budget (default: the configured one)")
    add(
        "--writer-rate",
        type=float,
        default=200.0,
        help="writes per second the concurrent writer aims for (0: as fast as it can)",
    )
    add(
        "--baseline-seconds",
        type=float,
        default=3.0,
        help="how long to measure the writer before the first and after the last revision",
    )
    add("--poll-ms", type=float, default=2.0, help="pg_locks poll interval of the lock monitor")
    add("--select1-samples", type=int, default=1000, help=argparse.SUPPRESS)
    add("--seed", type=int, default=20261128, help="seed of the writer's choices")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    for name in ("batch_size", "batch_budget_ms"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # The backfill revision reads its batch size and budget from modelreg's settings.
    for option, variable in (
        (args.batch_size, "BACKFILL_BATCH_SIZE"),
        (args.batch_budget_ms, "BACKFILL_BATCH_BUDGET_MS"),
    ):
        if option is not None:
            os.environ[f"MODELREG_MIGRATION__{variable}"] = str(option)
    get_settings.cache_clear()
    # Shorter GIL slices: the writer and the lock monitor wake up on time while the main thread
    # runs Alembic.
    sys.setswitchinterval(0.0005)
    admin, env = harness.start(args.database_url)
    with harness.fresh_database(admin, f"modelreg_bench_{os.getpid()}", revision=None) as url:
        figures = Figures(Bench(args, url).run())
    env["load_after"] = harness.load_average()
    return harness.finish(args, render(figures, args, env), figures.as_dict(args), env)


if __name__ == "__main__":
    sys.exit(main())
