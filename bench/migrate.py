"""Benchmark the `models` -> `meta JSONB` migration against a live writer.

Loads N synthetic rows into the wide 0001_baseline table, starts a writer that keeps writing
while revisions 0002_expand .. 0006_contract run one at a time, and reports what a production
rollout cares about: how long each revision takes, the longest ACCESS EXCLUSIVE lock it holds on
`models`, the backfill batch times, the writer's latency and errors, and whether the old columns
and `meta` agree before the contract. Reference figures from the same run (a `SELECT 1` round
trip, the writer with no migration running) let the numbers be read as ratios.

    .venv/bin/python bench/migrate.py [--rows N] [--database-url URL] [--batch-size N]
                                      [--output docs/benchmarks-migrate.json]

Without --database-url (or MODELREG_BENCH_DATABASE_URL) an embedded PostgreSQL is started under
a temporary directory. Either way the run uses a fresh database `modelreg_bench_<pid>` on that
server and drops it at the end. See bench/README.md for how to read the results.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL

from harness import Summary, ratio, rounded
from modelreg.config import get_settings
from modelreg.db import embedded, jsonb, migrate
from modelreg.db.legacy_sync import LEGACY_META_KEYS
from modelreg.db.urls import libpq_conninfo, normalise

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
TARGET_OUT_OF_SYNC = 0

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


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Statistics


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
    at_s: float
    ms: float
    ok: bool


@dataclass(frozen=True)
class Statement:
    kind: str
    query: str
    params: tuple[Any, ...]
    # True when the statement RETURNs whether a meta patch took effect.
    checks_applied: bool = False


class Writer(threading.Thread):
    """One connection in autocommit mode, writing at a steady rate until stopped."""

    def __init__(self, conninfo: str, rows: int, rate: float, seed: int, t0: float) -> None:
        super().__init__(name="writer", daemon=True)
        self.conninfo = conninfo
        self.rows = rows
        self.interval = 1 / rate if rate > 0 else 0.0
        self.rng = random.Random(seed)
        self.t0 = t0
        self.mode = Mode.OLD_ONLY
        self.phase = "baseline"
        self.samples: list[WriteSample] = []
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self.not_applied: Counter[tuple[str, str]] = Counter()
        self.inserted = 0
        self.crashed: BaseException | None = None
        self._stopping = threading.Event()
        self._pause_requested = threading.Event()
        self._paused = threading.Event()
        self._resume = threading.Event()

    # -- control, from the main thread

    def stop(self) -> None:
        self._stopping.set()
        self._resume.set()
        self.join(timeout=30)

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

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the main thread
            self.crashed = exc

    def _connect(self) -> Connection:
        conn = psycopg.connect(self.conninfo, autocommit=True, application_name=WRITER_APP)
        conn.execute(f"SET lock_timeout = '{WRITER_LOCK_TIMEOUT}'")
        return conn

    def _loop(self) -> None:
        conn = self._connect()
        try:
            next_at = time.perf_counter()
            count = 0
            while not self._stopping.is_set():
                if self._pause_requested.is_set():
                    self._paused.set()
                    self._resume.wait()
                    next_at = time.perf_counter()
                    continue
                statement = self._next(self.mode, count)
                phase = self.phase
                started = time.perf_counter()
                ok = True
                try:
                    cursor = conn.execute(statement.query, statement.params)
                    if statement.checks_applied:
                        row = cursor.fetchone()
                        if row is None or row[0] is not True:
                            self.not_applied[(phase, statement.kind)] += 1
                except psycopg.Error as exc:
                    ok = False
                    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    self.errors[(phase, statement.kind, f"{exc.sqlstate or '-'} {message}")] += 1
                    if conn.broken or conn.closed:
                        conn = self._reconnect(conn)
                elapsed = time.perf_counter() - started
                self.samples.append(
                    WriteSample(phase, statement.kind, started - self.t0, elapsed * 1000, ok)
                )
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
        while not self._stopping.is_set():
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


class LockMonitor(threading.Thread):
    """Polls pg_locks for AccessExclusiveLock on `models` every `interval` seconds."""

    def __init__(self, conninfo: str, database_oid: int, table_oid: int, interval: float) -> None:
        super().__init__(name="lock-monitor", daemon=True)
        self.conninfo = conninfo
        self.database_oid = database_oid
        self.table_oid = table_oid
        self.interval = interval
        self.phase = "baseline"
        self.sightings: list[LockSighting] = []
        self.poll_gaps_ms: list[float] = []
        self.polls = 0
        self.crashed: BaseException | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            self.crashed = exc

    def _loop(self) -> None:
        active: dict[tuple[int, str, bool], LockSighting] = {}
        previous: float | None = None
        params = (self.database_oid, self.table_oid)
        with psycopg.connect(self.conninfo, autocommit=True, application_name=MONITOR_APP) as conn:
            while not self._stopping.is_set():
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
                for key in [k for k in active if k not in seen]:
                    done = active.pop(key)
                    done.poll_after = now
                    self.sightings.append(done)
                previous = now
                pause = self.interval - (time.perf_counter() - started)
                if pause > 0:
                    time.sleep(pause)
        self.sightings.extend(active.values())


def one_line(statement: str, limit: int = 300) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        self.marks: list[float] = []
        self.scanned = 0

    def __call__(self, scanned: int, total: int) -> None:
        self.marks.append(time.perf_counter())
        self.scanned = scanned
        if len(self.marks) % 25 == 0:
            log(f"  backfill {scanned:,}/{total:,}")

    def batches_ms(self) -> list[float]:
        """Between two callbacks lies exactly one batch. The first batch is left out: its
        start (after Alembic's setup and the backfill's count) is not reported."""
        return [(b - a) * 1000 for a, b in itertools.pairwise(self.marks)]


@dataclass
class RevisionRun:
    revision: str
    seconds: float


@dataclass
class Results:
    rows: int
    server_version: str
    server_kind: str
    batch_size: int
    lock_timeout_ms: int
    writer_rate: float
    poll_interval_ms: float
    load_seconds: float = 0.0
    baseline_revision_seconds: float = 0.0
    table_mb_before: float = 0.0
    table_mb_after: float = 0.0
    final_rows: int = 0
    select1: Summary = field(default_factory=lambda: Summary.of([]))
    revisions: list[RevisionRun] = field(default_factory=list)
    backfill_batches_ms: list[float] = field(default_factory=list)
    backfill_scanned: int = 0
    sync: SyncReport | None = None
    writes: list[WriteSample] = field(default_factory=list)
    write_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    not_applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    sightings: list[LockSighting] = field(default_factory=list)
    poll_gaps_ms: list[float] = field(default_factory=list)
    total_seconds: float = 0.0
    final_revision: str | None = None


class Bench:
    def __init__(self, args: argparse.Namespace, url: URL, server_kind: str) -> None:
        self.args = args
        self.url = url
        self.server_kind = server_kind
        # Alembic connects with this name, so the lock monitor can tell its locks apart.
        self.migration_url = url.update_query_dict({"application_name": MIGRATION_APP})
        self.conninfo = libpq_conninfo(url)

    def run(self) -> Results:
        args = self.args
        settings = get_settings()
        t0 = time.perf_counter()
        log(f"upgrade to {migrate.BASELINE}")
        started = time.perf_counter()
        migrate.upgrade(self.migration_url, migrate.BASELINE)
        baseline_seconds = time.perf_counter() - started

        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            server_version = str(scalar_row(conn, "SHOW server_version")[0])
            results = Results(
                rows=args.rows,
                server_version=server_version,
                server_kind=self.server_kind,
                batch_size=settings.migration.backfill_batch_size,
                lock_timeout_ms=settings.migration.lock_timeout_ms,
                writer_rate=args.writer_rate,
                poll_interval_ms=args.poll_ms,
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
            writer = Writer(self.conninfo, args.rows, args.writer_rate, args.seed, t0)
            monitor.start()
            writer.start()
            try:
                self._migrate(conn, results, writer, monitor)
            finally:
                writer.stop()
                monitor.stop()
            for worker in (writer, monitor):
                if worker.crashed is not None:
                    raise RuntimeError(f"{worker.name} crashed") from worker.crashed

            results.writes = writer.samples
            results.write_errors = writer.errors
            results.not_applied = writer.not_applied
            results.sightings = sorted(monitor.sightings, key=lambda s: s.first_seen)
            results.poll_gaps_ms = monitor.poll_gaps_ms
            results.final_rows = int(scalar_row(conn, "SELECT count(*) FROM models")[0])
            results.table_mb_after = table_mb(conn)
        results.final_revision = migrate.current_revision(self.url)
        results.total_seconds = time.perf_counter() - t0
        return results

    def _migrate(
        self, conn: Connection, results: Results, writer: Writer, monitor: LockMonitor
    ) -> None:
        args = self.args
        log(f"writer baseline for {args.baseline_seconds:g} s (no migration running)")
        time.sleep(args.baseline_seconds)
        for revision in REVISIONS:
            if revision == CONTRACT_REVISION:
                # A real rollout retires the old writers before the contract: check the two
                # shapes agree with the writer paused, then let it go on writing meta only.
                self._set_phase(writer, monitor, "sync-check")
                writer.pause()
                log("sync check (writer paused)")
                results.sync = check_sync(conn)
                writer.mode = Mode.NEW_ONLY
                writer.resume()
            self._set_phase(writer, monitor, revision)
            timer = BatchTimer() if revision == BACKFILL_REVISION else None
            log(f"upgrade to {revision}")
            started = time.perf_counter()
            migrate.upgrade(self.migration_url, revision, progress=timer)
            results.revisions.append(RevisionRun(revision, time.perf_counter() - started))
            if timer is not None:
                results.backfill_batches_ms = timer.batches_ms()
                results.backfill_scanned = timer.scanned
            if revision == EXPAND_REVISION:
                writer.mode = Mode.MIXED
        self._set_phase(writer, monitor, "after")
        log(f"writer at head for {args.baseline_seconds:g} s (no migration running)")
        time.sleep(args.baseline_seconds)

    @staticmethod
    def _set_phase(writer: Writer, monitor: LockMonitor, phase: str) -> None:
        writer.phase = phase
        monitor.phase = phase


def scalar_row(conn: Connection, query: str) -> tuple[Any, ...]:
    row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def table_mb(conn: Connection) -> float:
    size = scalar_row(conn, "SELECT pg_total_relation_size('models')")[0]
    return int(size) / 2**20


def measure_select1(conn: Connection, samples: int) -> Summary:
    timings: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        conn.execute("SELECT 1", prepare=True).fetchone()
        timings.append((time.perf_counter() - started) * 1000)
    return Summary.of(timings)


# --------------------------------------------------------------------------------------------
# Report

PHASES: tuple[str, ...] = ("baseline", *REVISIONS[:-1], "sync-check", REVISIONS[-1], "after")


@dataclass
class Figures:
    """Everything derived from a run, for the table and the JSON."""

    results: Results
    writer_all: Summary
    writer_baseline: Summary
    writer_after: Summary
    writer_by_phase: dict[str, Summary]
    errors_by_phase: Counter[str]
    not_applied_by_phase: Counter[str]
    backfill: Summary
    longest_hold: dict[str, LockSighting | None]
    longest_wait: dict[str, LockSighting | None]
    other_holds: list[LockSighting]

    @classmethod
    def of(cls, r: Results) -> Figures:
        by_phase: dict[str, list[float]] = {p: [] for p in PHASES}
        for w in r.writes:
            by_phase.setdefault(w.phase, []).append(w.ms)
        errors: Counter[str] = Counter()
        for (phase, _, _), n in r.write_errors.items():
            errors[phase] += n
        not_applied: Counter[str] = Counter()
        for (phase, _), n in r.not_applied.items():
            not_applied[phase] += n
        holds = [s for s in r.sightings if s.granted and s.by_migration]
        waits = [s for s in r.sightings if not s.granted and s.by_migration]
        return cls(
            results=r,
            writer_all=Summary.of([w.ms for w in r.writes]),
            writer_baseline=Summary.of(by_phase["baseline"]),
            writer_after=Summary.of(by_phase["after"]),
            writer_by_phase={p: Summary.of(v) for p, v in by_phase.items()},
            errors_by_phase=errors,
            not_applied_by_phase=not_applied,
            backfill=Summary.of(r.backfill_batches_ms),
            longest_hold={p: _longest([s for s in holds if s.phase == p]) for p in PHASES},
            longest_wait={p: _longest([s for s in waits if s.phase == p]) for p in PHASES},
            other_holds=[s for s in r.sightings if s.granted and not s.by_migration],
        )

    @property
    def max_hold(self) -> LockSighting | None:
        return _longest([s for s in self.longest_hold.values() if s is not None])

    @property
    def errors(self) -> int:
        return sum(self.results.write_errors.values())

    @property
    def out_of_sync(self) -> int | None:
        return None if self.results.sync is None else self.results.sync.out_of_sync

    def targets(self) -> list[tuple[str, str, bool]]:
        hold = self.max_hold
        hold_ms = hold.observed_ms if hold is not None else 0.0
        p99 = self.writer_all.p99_ms
        writer_ratio = ratio(p99, self.writer_baseline.p99_ms)
        out_of_sync = self.out_of_sync
        return [
            (
                f"every ACCESS EXCLUSIVE hold on models < {TARGET_LOCK_MS:g} ms",
                f"{fmt(hold_ms)} ms" + (f" ({hold.phase})" if hold is not None else ""),
                hold_ms < TARGET_LOCK_MS,
            ),
            (
                f"writer p99 < {TARGET_WRITER_P99_MS:g} ms",
                f"{fmt(p99)} ms ({fmt_ratio(writer_ratio)} the baseline p99)",
                p99 is not None and p99 < TARGET_WRITER_P99_MS,
            ),
            (
                "rows out of sync before 0006_contract = 0",
                "not checked" if out_of_sync is None else f"{out_of_sync:,}",
                out_of_sync == TARGET_OUT_OF_SYNC,
            ),
        ]

    def as_dict(self) -> dict[str, Any]:
        r = self.results
        revision_seconds = {run.revision: round(run.seconds, 3) for run in r.revisions}
        return {
            "rows": r.rows,
            "final_rows": r.final_rows,
            "server": {"version": r.server_version, "kind": r.server_kind},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "settings": {
                "backfill_batch_size": r.batch_size,
                "lock_timeout_ms": r.lock_timeout_ms,
                "writer_rate_per_s": r.writer_rate,
                "writer_lock_timeout": WRITER_LOCK_TIMEOUT,
                "lock_poll_interval_ms": r.poll_interval_ms,
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
                        "seconds": revision_seconds.get(rev),
                        "longest_access_exclusive": _sighting_dict(self.longest_hold[rev]),
                        "longest_access_exclusive_wait": _sighting_dict(self.longest_wait[rev]),
                        "writer": self.writer_by_phase[rev].as_dict(),
                        "writer_p99_ratio": rounded(
                            ratio(self.writer_by_phase[rev].p99_ms, self.writer_baseline.p99_ms)
                        ),
                        "writer_errors": self.errors_by_phase[rev],
                        "meta_writes_not_applied": self.not_applied_by_phase[rev],
                    }
                    for rev in REVISIONS
                },
            },
            "backfill": {
                **self.backfill.as_dict(),
                "scanned": r.backfill_scanned,
                "batch_ms": [round(v, 3) for v in r.backfill_batches_ms],
            },
            "writer": {
                **self.writer_all.as_dict(),
                "p99_ratio_to_baseline": rounded(
                    ratio(self.writer_all.p99_ms, self.writer_baseline.p99_ms)
                ),
                "by_phase": {p: s.as_dict() for p, s in self.writer_by_phase.items()},
                "by_kind": _by_kind(r.writes),
                "errors": self.errors,
                "error_detail": [
                    {"phase": p, "kind": k, "error": e, "count": n}
                    for (p, k, e), n in sorted(r.write_errors.items())
                ],
                "meta_writes_not_applied": [
                    {"phase": p, "kind": k, "count": n}
                    for (p, k), n in sorted(r.not_applied.items())
                ],
            },
            "sync_before_contract": None if r.sync is None else r.sync.as_dict(),
            "lock_monitor": {
                "polls": len(r.poll_gaps_ms) + 1,
                "poll_gap": Summary.of(r.poll_gaps_ms).as_dict(),
                "sightings": [s.as_dict() for s in r.sightings],
            },
            "targets": [
                {"target": name, "measured": measured, "pass": ok}
                for name, measured, ok in self.targets()
            ],
        }


def _longest(sightings: Sequence[LockSighting]) -> LockSighting | None:
    return max(sightings, key=lambda s: (s.observed_ms, s.bound_ms), default=None)


def _sighting_dict(sighting: LockSighting | None) -> dict[str, Any] | None:
    return None if sighting is None else sighting.as_dict()


def _by_kind(writes: Sequence[WriteSample]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, list[float]] = {}
    for w in writes:
        kinds.setdefault(w.kind, []).append(w.ms)
    return {k: Summary.of(v).as_dict() for k, v in sorted(kinds.items())}


def wait_text(wait: LockSighting | None) -> str:
    if wait is None:
        return "—"
    kinds = sorted({b.split(" (pid")[0] for b in wait.blockers})
    return fmt(wait.observed_ms) + (f" (behind {', '.join(kinds)})" if kinds else "")


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}x"


def cell(text: str, limit: int = 70) -> str:
    text = one_line(text, limit)
    return text.replace("|", "\\|")


def render(f: Figures) -> str:
    r = f.results
    base_p99 = f.writer_baseline.p99_ms
    gaps = Summary.of(r.poll_gaps_ms)
    out: list[str] = []
    add = out.append
    add(f"## Migration benchmark: {r.rows:,} rows")
    add("")
    add(
        f"PostgreSQL {r.server_version} ({r.server_kind}), {os.cpu_count()} CPUs;"
        f" backfill batch {r.batch_size:,}; migration lock_timeout {r.lock_timeout_ms} ms;"
        f" writer {fmt(r.writer_rate, 0)} writes/s target, lock_timeout {WRITER_LOCK_TIMEOUT};"
        f" lock poll gap p50 {fmt(gaps.p50_ms, 2)} ms, max {fmt(gaps.max_ms, 1)} ms;"
        f" total {fmt(r.total_seconds)} s; table {fmt(r.table_mb_before, 0)} MB"
        f" → {fmt(r.table_mb_after, 0)} MB; final revision {r.final_revision}."
    )
    add("")
    add("### Reference (same run, no migration running)")
    add("")
    add("| reference | n | p50 ms | p99 ms | max ms |")
    add("| --- | ---: | ---: | ---: | ---: |")
    for name, s in (
        ("`SELECT 1` round trip", r.select1),
        ("writer before 0002 (old columns, no trigger)", f.writer_baseline),
        ("writer at head (meta only)", f.writer_after),
    ):
        add(f"| {name} | {s.count:,} | {fmt(s.p50_ms, 2)} | {fmt(s.p99_ms, 2)} | {fmt(s.max_ms)} |")
    add("")
    add("### Per revision")
    add("")
    add(
        "| step | time s | longest ACCESS EXCLUSIVE hold ms (poll bound) | held during"
        " | longest wait for it ms | writes | writer p50 ms | p99 ms | max ms"
        " | p99 ÷ base | errors | meta writes not applied |"
    )
    add("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    add(
        f"| load {r.rows:,} rows + VACUUM ANALYZE | {fmt(r.load_seconds, 2)}"
        " | — | | — | — | — | — | — | — | — | — |"
    )
    add(
        f"| {migrate.BASELINE} (creates the table) | {fmt(r.baseline_revision_seconds, 2)} | — |"
        " | — | — | — | — | — | — | — | — |"
    )
    revision_seconds = {run.revision: run.seconds for run in r.revisions}
    for phase in PHASES:
        s = f.writer_by_phase[phase]
        hold = f.longest_hold[phase]
        wait = f.longest_wait[phase]
        if phase in revision_seconds:
            name, seconds = phase, fmt(revision_seconds[phase], 2)
        elif phase == "sync-check":
            name = "sync check (writer paused)"
            seconds = fmt(r.sync.seconds if r.sync else None, 2)
        elif phase == "baseline":
            name, seconds = "writer baseline (before 0002)", "—"
        else:
            name, seconds = "writer at head (after 0006)", "—"
        hold_text = (
            "none seen" if hold is None else f"{fmt(hold.observed_ms)} ({fmt(hold.bound_ms)})"
        )
        held_during = "" if hold is None else cell(" → ".join(hold.statements) or "?")
        add(
            f"| {name} | {seconds} | {hold_text} | {held_during}"
            f" | {wait_text(wait)} | {s.count:,}"
            f" | {fmt(s.p50_ms, 2)} | {fmt(s.p99_ms, 2)} | {fmt(s.max_ms)}"
            f" | {fmt_ratio(ratio(s.p99_ms, base_p99))} | {f.errors_by_phase[phase]:,}"
            f" | {f.not_applied_by_phase[phase]:,} |"
        )
    add("")
    add("### Summary")
    add("")
    add("| figure | value |")
    add("| --- | ---: |")
    add(f"| rows loaded | {r.rows:,} |")
    add(f"| rows at the end (loaded + writer inserts) | {r.final_rows:,} |")
    migration_seconds = sum(run.seconds for run in r.revisions)
    add(f"| 0002..0006 total time s | {fmt(migration_seconds, 2)} |")
    add(
        f"| backfill batches (timed) / p50 / p99 / max ms | {f.backfill.count:,} /"
        f" {fmt(f.backfill.p50_ms)} / {fmt(f.backfill.p99_ms)} / {fmt(f.backfill.max_ms)} |"
    )
    waits = [x for x in f.longest_wait.values() if x is not None]
    longest_wait = _longest(waits)
    add(
        "| longest wait of the migration for ACCESS EXCLUSIVE ms (writers queue behind it) | "
        + ("—" if longest_wait is None else f"{wait_text(longest_wait)}, {longest_wait.phase}")
        + " |"
    )
    w = f.writer_all
    add(f"| writer writes | {w.count:,} |")
    add(
        f"| writer p50 / p99 / max ms | {fmt(w.p50_ms, 2)} / {fmt(w.p99_ms, 2)} / {fmt(w.max_ms)} |"
    )
    add(f"| writer p99 ÷ baseline p99 | {fmt_ratio(ratio(w.p99_ms, base_p99))} |")
    add(f"| writer p99 ÷ `SELECT 1` p50 | {fmt_ratio(ratio(w.p99_ms, r.select1.p50_ms))} |")
    add(f"| writer errors | {f.errors:,} |")
    add(f"| meta writes not applied | {sum(r.not_applied.values()):,} |")
    if r.sync is not None:
        add(f"| rows out of sync before 0006 | {r.sync.out_of_sync:,} |")
        add(f"|   legacy keys differ (null = absent) | {r.sync.keys_differ:,} |")
        add(f"|   differ on the keys of `modelreg_row_to_meta` | {r.sync.row_keys_differ:,} |")
        add(f"|   is_legacy ≠ is_deprecated | {r.sync.flag_differs:,} |")
        add(f"|   meta IS NULL | {r.sync.meta_null:,} |")
    add("")
    add("### Targets")
    add("")
    add("| target | measured | result |")
    add("| --- | --- | --- |")
    for name, measured, ok in f.targets():
        add(f"| {name} | {measured} | {'PASS' if ok else 'FAIL'} |")
    if r.sync is not None and r.sync.by_key:
        add("")
        add("### Out-of-sync rows by key (before 0006)")
        add("")
        add("| meta key | rows | example id | old columns say | meta says |")
        add("| --- | ---: | --- | --- | --- |")
        for item in r.sync.by_key:
            add(
                f"| {item['key']} | {item['rows']:,} | {item['example_id']}"
                f" | {cell(json.dumps(item['columns_say']), 40)}"
                f" | {cell(json.dumps(item['meta_says']), 40)} |"
            )
    long_waits = [x for x in r.sightings if not x.granted and x.observed_ms >= 10]
    if long_waits:
        add("")
        add("### Waits for ACCESS EXCLUSIVE on models of 10 ms or more")
        add("")
        add("| phase | waiter | waited ms (poll bound) | waiting statement | held up by |")
        add("| --- | --- | ---: | --- | --- |")
        for x in long_waits:
            add(
                f"| {x.phase} | {x.application_name or x.backend_type}"
                f" | {fmt(x.observed_ms)} ({fmt(x.bound_ms)})"
                f" | {cell(' → '.join(x.statements) or '?', 60)}"
                f" | {cell(' / '.join(x.blockers) or '?', 90)} |"
            )
    if r.write_errors:
        add("")
        add("### Writer errors")
        add("")
        add("| phase | write | error | count |")
        add("| --- | --- | --- | ---: |")
        for (phase, kind, error), n in sorted(r.write_errors.items()):
            add(f"| {phase} | {kind} | {cell(error, 100)} | {n:,} |")
    if r.not_applied:
        add("")
        add("### Meta writes that did not stick (`meta || patch` on a row whose meta was NULL)")
        add("")
        add("| phase | write | count |")
        add("| --- | --- | ---: |")
        for (phase, kind), n in sorted(r.not_applied.items()):
            add(f"| {phase} | {kind} | {n:,} |")
    if f.other_holds:
        longest = _longest(f.other_holds)
        assert longest is not None
        add("")
        add(
            f"ACCESS EXCLUSIVE on models by other backends: {len(f.other_holds)},"
            f" longest {fmt(longest.observed_ms)} ms ({longest.backend_type},"
            f" {longest.phase}: {cell(' → '.join(longest.statements) or '?')})."
        )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Server and database


def server_url(args: argparse.Namespace) -> tuple[URL, str]:
    """The admin URL of the server to use, and what kind of server it is."""
    given = args.database_url or os.environ.get("MODELREG_BENCH_DATABASE_URL")
    if given:
        return normalise(given), "external"
    data_dir = Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
    # Registered before the server's own exit hook, so it runs after the server has stopped.
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    log(f"starting an embedded PostgreSQL under {data_dir}")
    return normalise(embedded.start(data_dir, database="postgres")), "embedded"


def create_database(admin: URL, name: str) -> None:
    with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin: URL, name: str) -> None:
    with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="legacy rows to load")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use (any database on it; default:"
        " MODELREG_BENCH_DATABASE_URL, else an embedded server in a temporary directory)",
    )
    parser.add_argument(
        "--batch-size", type=int, help="backfill batch size (default: the configured one)"
    )
    parser.add_argument("--output", type=Path, help="write every figure as JSON to this file")
    parser.add_argument(
        "--writer-rate",
        type=float,
        default=200.0,
        help="writes per second the concurrent writer aims for (0: as fast as it can)",
    )
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=3.0,
        help="how long to measure the writer before the first and after the last revision",
    )
    parser.add_argument(
        "--poll-ms", type=float, default=2.0, help="pg_locks poll interval of the lock monitor"
    )
    parser.add_argument("--select1-samples", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=20261128, help="seed of the writer's choices")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.batch_size is not None:
        # The backfill revision reads its batch size from modelreg's settings.
        os.environ["MODELREG_MIGRATION__BACKFILL_BATCH_SIZE"] = str(args.batch_size)
        get_settings.cache_clear()
    # Shorter GIL slices: the writer and the lock monitor wake up on time while the main thread
    # runs Alembic.
    sys.setswitchinterval(0.0005)

    admin, kind = server_url(args)
    name = f"modelreg_bench_{os.getpid()}"
    create_database(admin, name)
    try:
        results = Bench(args, admin.set(database=name), kind).run()
    finally:
        drop_database(admin, name)
    figures = Figures.of(results)
    print(render(figures), end="", flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures.as_dict(), indent=2, default=str) + "\n")
        log(f"wrote {args.output}")
    if args.strict and not all(ok for _, _, ok in figures.targets()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
