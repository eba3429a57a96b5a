"""Build the verification report `modelreg db verify` prints.

Checks, each naming the rows that fail it: no NULL meta; every required key present; every meta
valid under the application's own `ModelMeta`; the seven catalog indexes present, valid and
defined as expected; the five canonical queries planned on their intended index.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, text

from modelreg.catalog.meta import REQUIRED_KEYS, ModelMeta
from modelreg.db import jsonb
from modelreg.db.indexes import INDEXES

MAX_LISTED = 100


@dataclass
class IndexCheck:
    name: str
    present: bool
    valid: bool
    definition: str | None
    expected: str
    matches: bool


@dataclass
class QueryCheck:
    name: str
    sql: str
    expected_index: str
    uses_index: bool
    plan: str


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
    # On two booleans the planner rates idx_models_is_archived alone as good as the pair for
    # the filter; the ORDER BY states the access path the pair exists for (served models in
    # index order), which only the composite index provides.
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
    report.failures["null_meta"] = [{"id": i} for i in null_ids[:MAX_LISTED]]

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
    report.failures["missing_required"] = [
        {"id": str(r.id), "missing": list(r.missing)} for r in missing_rows[:MAX_LISTED]
    ]

    invalid: list[dict[str, Any]] = []
    rows = conn.execute(
        text("SELECT id, meta::text AS meta FROM models WHERE meta IS NOT NULL ORDER BY id"),
        execution_options={"yield_per": 2000},
    )
    for row in rows:
        try:
            ModelMeta.model_validate(jsonb.loads(row.meta))
        except ValidationError as exc:
            report.invalid_meta += 1
            if len(invalid) < MAX_LISTED:
                errors = [
                    {"path": ".".join(str(p) for p in e["loc"]) or "meta", "error": e["msg"]}
                    for e in exc.errors(include_url=False)
                ]
                invalid.append({"id": str(row.id), "errors": errors})
    report.failures["invalid_meta"] = invalid


def _check_indexes(conn: Connection, report: Report) -> None:
    found = {
        str(r.name): (bool(r.valid), str(r.definition))
        for r in conn.execute(
            text(
                "SELECT c.relname AS name, i.indisvalid AS valid,"
                " replace(pg_get_indexdef(i.indexrelid), ' ON ' || n.nspname || '.', ' ON ')"
                " AS definition"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE i.indrelid = 'models'::regclass"
            )
        )
    }
    for spec in INDEXES:
        valid, definition = found.get(spec.name, (False, None))
        report.indexes.append(
            IndexCheck(
                name=spec.name,
                present=spec.name in found,
                valid=valid,
                definition=definition,
                expected=spec.canonical,
                matches=definition == spec.canonical,
            )
        )


def _check_queries(conn: Connection, report: Report) -> None:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    for name, sql, expected in CANONICAL_QUERIES:
        try:
            with conn.begin_nested():
                plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
        except Exception as exc:  # a query that cannot even be planned fails its check
            report.queries.append(QueryCheck(name, sql, expected, False, f"error: {exc}"))
            continue
        plan_doc = plan if isinstance(plan, list) else json.loads(plan)
        used = _index_names(plan_doc)
        report.queries.append(
            QueryCheck(name, sql, expected, expected in used, _plan_text(plan_doc[0]["Plan"]))
        )


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
        out += ["", "## Indexes", "", "| index | present | valid | definition matches |"]
        out += ["|---|---|---|---|"]
        for i in report.indexes:
            out.append(f"| `{i.name}` | {i.present} | {i.valid} | {mark[i.matches]} |")
        for i in report.indexes:
            if i.present and not i.matches:
                out += ["", f"`{i.name}`: expected `{i.expected}`, found `{i.definition}`"]
    if report.queries:
        out += ["", "## Canonical queries (enable_seqscan = off)", ""]
        out += ["| query | expected index | uses it |", "|---|---|---|"]
        for q in report.queries:
            out.append(f"| {q.name} | `{q.expected_index}` | {mark[q.uses_index]} |")
        for q in report.queries:
            if not q.uses_index:
                out += ["", f"`{q.name}`: `{q.sql}`", "```", q.plan, "```"]
    for check, rows in report.failures.items():
        if rows:
            out += ["", f"## Rows failing {check}", ""]
            for row in rows:
                detail = {k: v for k, v in row.items() if k != "id"}
                out.append(f"- `{row['id']}`" + (f": {json.dumps(detail)}" if detail else ""))
    return "\n".join(out) + "\n"
