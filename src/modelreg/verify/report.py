"""Build the verification report `modelreg db verify` prints.

Checks, each naming the rows that fail it with the command that fixes each: no NULL meta; every
required key present; every meta valid under the application's own `ModelMeta`; the seven
catalog indexes present, valid and defined as expected (with how often each was used); the five
canonical queries can be served by their intended index, whatever the table's size and
statistics.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from modelreg.catalog.meta import REQUIRED_KEYS, ModelMeta
from modelreg.db import jsonb
from modelreg.db.indexes import INDEXES
from modelreg.verify import fixes

MAX_LISTED = 100


@dataclass
class IndexCheck:
    name: str
    present: bool
    valid: bool
    definition: str | None
    expected: str
    matches: bool
    # Index scans since statistics were last reset (pg_stat_user_indexes.idx_scan).
    scans: int | None = None


@dataclass
class QueryCheck:
    name: str
    sql: str
    expected_index: str
    uses_index: bool
    plan: str
    # Where and under which planner settings the plan was made.
    settings: str = ""


@dataclass
class Report:
    ok: bool = False
    revision: str | None = None
    total_models: int = 0
    null_meta: int = 0
    missing_required: int = 0
    invalid_meta: int = 0
    legacy: int = 0
    archived: int = 0
    indexes: list[IndexCheck] = field(default_factory=list)
    queries: list[QueryCheck] = field(default_factory=list)
    # Rows that failed, by check (at most MAX_LISTED each), and problems outside the rows.
    failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


# (name, SQL, index it must use). The expressions match the index expressions exactly.
CANONICAL_QUERIES: tuple[tuple[str, str, str], ...] = (
    (
        "by_required_tier",
        "SELECT id FROM models WHERE meta->>'requiredTier' = 'pro'",
        "idx_models_meta_required_tier",
    ),
    (
        "by_capability",
        "SELECT id FROM models WHERE meta->'capabilities' ? 'vision'",
        "idx_models_meta_capabilities",
    ),
    (
        "by_credits_range",
        "SELECT id FROM models"
        " WHERE (meta->>'creditsPer1kTokens')::numeric BETWEEN 1 AND 10"
        " ORDER BY (meta->>'creditsPer1kTokens')::numeric",
        "idx_models_meta_credits_per_1k",
    ),
    (
        "by_containment",
        'SELECT id FROM models WHERE meta @> \'{"tierRestrictionMode": "whitelist"}\'',
        "idx_models_meta_gin",
    ),
    # The ORDER BY states the access path the pair exists for (served models in index order),
    # which only the composite index provides; for the filter alone idx_models_is_archived
    # would do as well.
    (
        "available_not_archived",
        "SELECT id FROM models WHERE is_available = true AND is_archived = false"
        " ORDER BY is_available, is_archived",
        "idx_models_is_available_is_archived",
    ),
)


def build_report(conn: Connection) -> Report:
    """Inspect the database behind `conn` (read-only; runs in one transaction, rolled back)."""
    report = Report()
    with conn.begin() as tx:
        report.revision = _revision(conn)
        if not _has_table(conn, "models"):
            report.problems.append("there is no models table")
            tx.rollback()
            return report
        report.total_models = int(conn.execute(text("SELECT count(*) FROM models")).scalar_one())
        columns = _columns(conn)
        if "meta" not in columns:
            report.problems.append(
                "models has no meta column: run `modelreg db upgrade` (0002_expand and later)"
            )
            tx.rollback()
            return report
        _check_rows(conn, report, columns)
        _check_indexes(conn, report)
        _check_queries(conn, report)
        tx.rollback()
    report.ok = (
        not report.problems
        and report.null_meta == 0
        and report.missing_required == 0
        and report.invalid_meta == 0
        and all(i.present and i.valid and i.matches for i in report.indexes)
        and all(q.uses_index for q in report.queries)
    )
    return report


def _revision(conn: Connection) -> str | None:
    if not _has_table(conn, "alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _has_table(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one())


def _columns(conn: Connection) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT attname FROM pg_attribute"
            " WHERE attrelid = 'models'::regclass AND attnum > 0 AND NOT attisdropped"
        )
    )
    return {str(r.attname) for r in rows}


def _check_rows(conn: Connection, report: Report, columns: set[str]) -> None:
    null_ids = [str(r.id) for r in conn.execute(text("SELECT id FROM models WHERE meta IS NULL"))]
    report.null_meta = len(null_ids)
    report.failures["null_meta"] = [
        {"id": i, "fix": fixes.backfill_command(i)} for i in null_ids[:MAX_LISTED]
    ]

    if "is_legacy" in columns:
        report.legacy = int(
            conn.execute(text("SELECT count(*) FROM models WHERE is_legacy")).scalar_one()
        )
    if "is_archived" in columns:
        report.archived = int(
            conn.execute(text("SELECT count(*) FROM models WHERE is_archived")).scalar_one()
        )

    missing_rows = conn.execute(
        text(
            "SELECT id, ARRAY(SELECT k FROM unnest(CAST(:keys AS text[])) k WHERE NOT meta ? k)"
            " AS missing FROM models"
            " WHERE meta IS NOT NULL AND NOT meta ?& CAST(:keys AS text[]) ORDER BY id"
        ),
        {"keys": list(REQUIRED_KEYS)},
    ).all()
    report.missing_required = len(missing_rows)
    missing: list[dict[str, Any]] = [
        {"id": str(r.id), "missing": list(r.missing)} for r in missing_rows[:MAX_LISTED]
    ]
    report.failures["missing_required"] = missing

    # From 0007_admin on a row is fixed through modelreg (validated, audited); before, in SQL
    # (until 0006_contract the sync trigger carries a write of meta to the old columns).
    through_cli = _has_table(conn, "audit_events")
    fix_for: dict[str, str] = {}
    wanted = {entry["id"] for entry in missing}
    invalid: list[dict[str, Any]] = []
    rows = conn.execute(
        text("SELECT id, name, meta::text AS meta FROM models WHERE meta IS NOT NULL ORDER BY id"),
        execution_options={"yield_per": 2000},
    )
    for row in rows:
        meta = jsonb.loads(row.meta)
        try:
            ModelMeta.model_validate(meta)
        except ValidationError as exc:
            report.invalid_meta += 1
            model_id = str(row.id)
            if len(invalid) >= MAX_LISTED and model_id not in wanted:
                continue
            errors = [
                {"path": ".".join(str(p) for p in e["loc"]) or "meta", "error": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            patch = fixes.meta_patch(
                model_id,
                str(row.name or ""),
                meta,
                [e["path"] for e in errors],
                computes_credits=through_cli,
            )
            fix_for[model_id] = fixes.command(model_id, patch, cli=through_cli)
            if len(invalid) < MAX_LISTED:
                entry: dict[str, Any] = {"id": model_id, "errors": errors}
                entry["fix"] = fix_for[model_id]
                entry["fill_in"] = fixes.needs_input(patch)
                invalid.append(entry)
    report.failures["invalid_meta"] = invalid
    for entry in missing:
        if entry["id"] in fix_for:
            entry["fix"] = fix_for[entry["id"]]


def _check_indexes(conn: Connection, report: Report) -> None:
    found = {
        str(r.name): (bool(r.valid), str(r.definition), int(r.scans))
        for r in conn.execute(
            text(
                "SELECT c.relname AS name, i.indisvalid AS valid,"
                " replace(pg_get_indexdef(i.indexrelid), ' ON ' || n.nspname || '.', ' ON ')"
                " AS definition, pg_stat_get_numscans(i.indexrelid) AS scans"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE i.indrelid = 'models'::regclass"
            )
        )
    }
    for spec in INDEXES:
        valid, definition, scans = found.get(spec.name, (False, None, None))
        report.indexes.append(
            IndexCheck(
                name=spec.name,
                present=spec.name in found,
                valid=valid,
                definition=definition,
                expected=spec.canonical,
                matches=definition == spec.canonical,
                scans=scans,
            )
        )


# The proof that an index can serve a query is made on an empty temporary copy of `models`
# holding that index alone, with sequential scans off: no other index competes, and no row count
# or statistic weighs in, so the answer depends on the index's definition only. (On the real
# table the planner may rightly prefer another index for a while, e.g. idx_models_is_archived for
# a catalog where every model is served.) Where no temporary table can be made (a read-only
# standby), the plan is made on the real table instead, with the other access paths turned off.
PROBE_SETTINGS = ("enable_seqscan",)
FALLBACK_SETTINGS: dict[str, tuple[str, ...]] = {
    "gin": ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan", "enable_tidscan"),
    "btree": ("enable_seqscan", "enable_bitmapscan", "enable_tidscan", "enable_sort",
              "enable_incremental_sort"),
}  # fmt: skip


def _check_queries(conn: Connection, report: Report) -> None:
    built = {i.name: i.definition for i in report.indexes if i.present and i.valid}
    for name, sql, expected in CANONICAL_QUERIES:
        definition = built.get(expected)
        if definition is None:
            report.queries.append(
                QueryCheck(name, sql, expected, False, f"{expected} is missing or invalid")
            )
            continue
        try:
            plan_doc, settings = _probe_plan(conn, sql, definition)
        except DBAPIError:
            try:
                plan_doc, settings = _live_plan(conn, sql, expected)
            except DBAPIError as exc:  # a query that cannot even be planned fails its check
                report.queries.append(QueryCheck(name, sql, expected, False, f"error: {exc}"))
                continue
        used = _index_names(plan_doc)
        report.queries.append(
            QueryCheck(
                name, sql, expected, expected in used, _plan_text(plan_doc[0]["Plan"]), settings
            )
        )


def _explain(conn: Connection, sql: str) -> Any:
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    return plan if isinstance(plan, list) else json.loads(plan)


def _probe_plan(conn: Connection, sql: str, definition: str) -> tuple[Any, str]:
    on_probe = definition.replace(" ON models ", " ON pg_temp.models ", 1)
    # Everything here, SET LOCAL included, ends with the savepoint's rollback.
    with conn.begin_nested() as probe:
        try:
            conn.execute(text("CREATE TEMPORARY TABLE models (LIKE public.models)"))
            conn.execute(text(on_probe))
            for setting in PROBE_SETTINGS:
                conn.execute(text(f"SET LOCAL {setting} = off"))
            return _explain(conn, sql), (
                "on an empty copy of models with only this index; "
                + ", ".join(f"{s} = off" for s in PROBE_SETTINGS)
            )
        finally:
            probe.rollback()


def _live_plan(conn: Connection, sql: str, expected: str) -> tuple[Any, str]:
    spec = next(s for s in INDEXES if s.name == expected)
    off = FALLBACK_SETTINGS["gin" if spec.gin else "btree"]
    with conn.begin_nested() as attempt:
        try:
            for setting in off:
                conn.execute(text(f"SET LOCAL {setting} = off"))
            return _explain(conn, sql), "on models; " + ", ".join(f"{s} = off" for s in off)
        finally:
            attempt.rollback()


def _index_names(node: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        if "Index Name" in node:
            names.add(str(node["Index Name"]))
        for value in node.values():
            names |= _index_names(value)
    elif isinstance(node, list):
        for item in node:
            names |= _index_names(item)
    return names


def _plan_text(node: dict[str, Any], depth: int = 0) -> str:
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" using {node['Index Name']}"
    lines = ["  " * depth + label]
    for child in node.get("Plans", []):
        lines.append(_plan_text(child, depth + 1))
    return "\n".join(lines)


def to_markdown(report: Report) -> str:
    mark = {True: "pass", False: "FAIL"}
    out = [
        "# modelreg migration verification",
        "",
        f"**Result: {'OK' if report.ok else 'FAILED'}** at revision `{report.revision}`",
        "",
        "| check | value | result |",
        "|---|---|---|",
        f"| models | {report.total_models} | |",
        f"| legacy | {report.legacy} | |",
        f"| archived | {report.archived} | |",
        f"| NULL meta | {report.null_meta} | {mark[report.null_meta == 0]} |",
        f"| missing required keys | {report.missing_required} "
        f"| {mark[report.missing_required == 0]} |",
        f"| invalid meta (ModelMeta) | {report.invalid_meta} | {mark[report.invalid_meta == 0]} |",
    ]
    for problem in report.problems:
        out += ["", f"- FAIL: {problem}"]
    if report.indexes:
        out += [
            "",
            "## Indexes",
            "",
            "| index | present | valid | definition matches | scans |",
            "|---|---|---|---|---|",
        ]
        for i in report.indexes:
            scans = "" if i.scans is None else str(i.scans)
            out.append(f"| `{i.name}` | {i.present} | {i.valid} | {mark[i.matches]} | {scans} |")
        for i in report.indexes:
            if i.present and not i.matches:
                out += ["", f"`{i.name}`: expected `{i.expected}`, found `{i.definition}`"]
    if report.queries:
        out += [
            "",
            "## Canonical queries (each planned on an empty copy of models holding only its "
            "index: proof that the index can serve it, whatever the table's size)",
            "",
        ]
        out += ["| query | expected index | can use it |", "|---|---|---|"]
        for q in report.queries:
            out.append(f"| {q.name} | `{q.expected_index}` | {mark[q.uses_index]} |")
        for q in report.queries:
            if not q.uses_index:
                out += ["", f"`{q.name}` ({q.settings}): `{q.sql}`", "```", q.plan, "```"]
    fixable = False
    for check, rows in report.failures.items():
        if rows:
            out += ["", f"## Rows failing {check}", ""]
            for row in rows:
                detail = {k: v for k, v in row.items() if k not in ("id", "fix", "fill_in")}
                out.append(f"- `{row['id']}`" + (f": {json.dumps(detail)}" if detail else ""))
                if "fix" in row:
                    fixable = True
                    out.append(f"  - fix: `{row['fix']}`")
    if fixable:
        out += [
            "",
            "Each fix makes its row valid. Run them as printed, after filling in any "
            "`<placeholder>`: a fact only you know. Review the values given (a model with no "
            "capabilities gets `text`). `modelreg model patch` commands need revision "
            '0007_admin; `UPDATE` statements are for psql. See "verify failed: what now" '
            "in docs/migration-runbook.md.",
        ]
    return "\n".join(out) + "\n"
