"""Adopt a database whose `models` table another tool created in the baseline shape.

The expected shape is not written down twice: it is built from 0001_baseline's own DDL in a
throw-away schema inside a transaction that is rolled back. Every difference from it is either
compatible (adopted, with how it is handled) or blocking (nothing is stamped; a remedy is named).
The adopted shape is recorded (`modelreg.db.legacy_shape`) so that a downgrade to
0001_baseline gives it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from modelreg.db import baseline, legacy_shape
from modelreg.db.exceptions import AdoptionMismatch
from modelreg.db.legacy_shape import ENUM_COLUMNS, Column, Shape

PROBE_SCHEMA = "modelreg_adopt_probe"

# Columns the 0002_expand -> 0006_contract path maps to meta (and so drops at the end).
MAPPED = frozenset(
    (
        "display_name", "description", "capabilities", "context_length", "max_output_tokens",
        "input_cost_per_million_tokens", "output_cost_per_million_tokens",
        "credits_per_1k_tokens", "is_deprecated", "version", "required_tier",
        "tier_restriction_mode", "allowed_tiers",
    )
)  # fmt: skip
# The mapped columns 0002_expand makes nullable: a NULL there becomes a meta that `db verify`
# reports and `modelreg model patch` fixes.
NULL_TOLERATED = MAPPED - {"is_deprecated"}
TIMESTAMPS = frozenset(("created_at", "updated_at"))
_TIMESTAMP = re.compile(r"timestamp(\(\d\))? with(out)? time zone")
_VARCHAR = re.compile(r"character varying\((\d+)\)")
DOWN = "`modelreg db downgrade 0001_baseline`"


@dataclass(frozen=True)
class Difference:
    subject: str  # "column created_at", "type subscription_tier", "index ...", "primary key"
    what: str  # "type is timestamp(3) without time zone, expected timestamp with time zone"
    blocking: bool
    # Compatible: how it is handled. Blocking: what to do about it.
    action: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.what}"


@dataclass(frozen=True)
class Assessment:
    compatible: list[Difference]
    blocking: list[Difference]
    shape: Shape | None  # the table as found (None: there is none)


class AlreadyManaged(Exception):
    def __init__(self, revision: str):
        super().__init__(f"this database is already managed by modelreg (revision {revision})")
        self.revision = revision


def check(conn: Connection) -> Assessment:
    """Every difference between the database's `models` and the baseline, classified."""
    version = _current_revision(conn)
    if version is not None:
        raise AlreadyManaged(version)
    if not conn.execute(text("SELECT to_regclass('public.models') IS NOT NULL")).scalar_one():
        missing = Difference(
            "table public.models",
            "there is no table public.models to adopt",
            True,
            "point MODELREG_DATABASE_URL at the database that holds it, or create a new "
            "catalog with `modelreg db upgrade`",
        )
        return Assessment([], [missing], None)
    actual = legacy_shape.read(conn, "public")
    differences = diff(_expected_shape(conn), actual, _RowProbe(conn))
    return Assessment(
        [d for d in differences if not d.blocking], [d for d in differences if d.blocking], actual
    )


def adopt(conn: Connection) -> Assessment:
    """Check, then record the adopted shape (in `conn`'s transaction); AdoptionMismatch if any
    difference blocks. The caller stamps the revision in the same transaction."""
    assessment = check(conn)
    if assessment.blocking:
        raise AdoptionMismatch([str(d) for d in assessment.blocking])
    assert assessment.shape is not None
    legacy_shape.record(conn, legacy_shape.ADOPTED, assessment.shape)
    return assessment


class _RowProbe:
    """What the rows hold, for the differences that depend on it."""

    def __init__(self, conn: Connection | None):
        self.conn = conn

    def ids(self, where: str, params: dict[str, object] | None = None) -> list[str]:
        if self.conn is None:
            return []
        rows = self.conn.execute(
            text(f"SELECT id::text FROM public.models WHERE {where} ORDER BY id LIMIT 6"),
            params or {},
        )
        return [str(r[0]) for r in rows]


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:5])
    return shown + (", ..." if len(ids) > 5 else "")


def diff(expected: Shape, actual: Shape, rows: _RowProbe | None = None) -> list[Difference]:
    rows = rows or _RowProbe(None)
    out: list[Difference] = []
    for name, want in expected.columns.items():
        have = actual.columns.get(name)
        if have is None:
            out.append(
                Difference(
                    f"column {name}",
                    f"missing (expected {want.type})",
                    True,
                    f"ALTER TABLE models ADD COLUMN {name} {want.type}"
                    + (f" DEFAULT {want.default}" if want.default else "")
                    + (" NOT NULL" if want.not_null and want.default else ""),
                )
            )
            continue
        out += _column_differences(want, have, rows)
    for name in sorted(actual.columns.keys() - expected.columns.keys()):
        have = actual.columns[name]
        if have.not_null and have.default is None:
            out.append(
                Difference(
                    f"column {name}",
                    "not in the baseline schema, NOT NULL without a default",
                    True,
                    f"modelreg's inserts would fail: ALTER TABLE models ALTER COLUMN {name} "
                    "DROP NOT NULL (or SET DEFAULT ...)",
                )
            )
        else:
            out.append(
                Difference(
                    f"column {name}",
                    "not in the baseline schema",
                    False,
                    "kept as it is; modelreg neither reads nor writes it",
                )
            )
    for enum, labels in expected.enums.items():
        out += _enum_differences(enum, labels, actual, rows)
    if actual.primary_key != expected.primary_key:
        out.append(
            Difference(
                "primary key",
                f"is ({', '.join(actual.primary_key) or 'none'}), "
                f"expected ({', '.join(expected.primary_key)})",
                True,
                "ALTER TABLE models ADD PRIMARY KEY (id)"
                if not actual.primary_key
                else "ALTER TABLE models DROP CONSTRAINT <its primary key>, ADD PRIMARY KEY (id)",
            )
        )
    for name in sorted(actual.indexes.keys() - expected.indexes.keys()):
        covers = [c for c in MAPPED if re.search(rf"\b{c}\b", actual.indexes[name])]
        handled = "kept"
        if covers:
            handled += (
                f"; 0006_contract drops it with {', '.join(sorted(covers))} and records it, "
                "and its downgrade builds it again"
            )
        out.append(Difference(f"index {name}", "not in the baseline schema", False, handled))
    return out


def _column_differences(want: Column, have: Column, rows: _RowProbe) -> list[Difference]:
    out: list[Difference] = []
    name = want.name
    subject = f"column {name}"
    if have.type != want.type:
        out.append(_type_difference(want, have))
    if have.not_null and not want.not_null:
        out.append(
            Difference(
                subject,
                "NOT NULL, expected nullable",
                True,
                f"modelreg's writers leave it NULL at times: "
                f"ALTER TABLE models ALTER COLUMN {name} DROP NOT NULL",
            )
        )
    elif want.not_null and not have.not_null:
        null_ids = rows.ids(f"{legacy_shape.quote(name)} IS NULL")
        # A NULL the mapping turns into an invalid meta can be fixed later (verify says how);
        # one anywhere else breaks modelreg (is_deprecated: the backfill copies it to is_legacy).
        if null_ids and name not in NULL_TOLERATED:
            out.append(
                Difference(
                    subject,
                    f"nullable, expected NOT NULL; rows {_listed(null_ids)} hold NULL",
                    True,
                    f"give those rows a value (UPDATE models SET {name} = ... WHERE {name} IS "
                    "NULL), then run `modelreg db adopt` again",
                )
            )
        else:
            handled = (
                "kept nullable (0002_expand makes it nullable anyway; a downgrade to "
                "0001_baseline leaves it nullable)"
                if name in NULL_TOLERATED
                else "kept nullable; modelreg always writes a value here"
            )
            if null_ids:
                handled += (
                    f"; rows holding NULL ({_listed(null_ids)}) get meta that `modelreg db "
                    "verify` reports, with the command that fixes each"
                )
            out.append(Difference(subject, "nullable, expected NOT NULL", False, handled))
    if have.default != want.default:
        out.append(_default_difference(want, have))
    return out


def _type_difference(want: Column, have: Column) -> Difference:
    name = want.name
    what = f"type is {have.type}, expected {want.type}"
    if name in TIMESTAMPS and _TIMESTAMP.fullmatch(have.type):
        return Difference(
            f"column {name}",
            what,
            False,
            "converted to timestamptz by `modelreg db upgrade` (0002_expand; values without a "
            f"time zone are read as UTC, no table rewrite); {DOWN} gives back {have.type}",
        )
    wanted_len = _VARCHAR.fullmatch(want.type)
    if wanted_len is not None:
        have_len = _VARCHAR.fullmatch(have.type)
        wider = have.type in ("text", "character varying") or (
            have_len is not None and int(have_len.group(1)) >= int(wanted_len.group(1))
        )
        if wider:
            return Difference(
                f"column {name}",
                what,
                False,
                f"kept: wider than the baseline; modelreg writes at most "
                f"{wanted_len.group(1)} characters here",
            )
    remedy = f"ALTER TABLE models ALTER COLUMN {name} TYPE {want.type}"
    enum = next((e for e, cols in ENUM_COLUMNS.items() if name in cols), None)
    if enum is not None and have.type.strip('"[]') != enum:
        remedy = (
            f"if {have.type.removesuffix('[]')} is an enum with the baseline's labels: "
            f"ALTER TYPE {have.type.removesuffix('[]')} RENAME TO {enum}; otherwise {remedy}"
        )
    return Difference(f"column {name}", what, True, remedy + " (USING ... where needed)")


def _default_difference(want: Column, have: Column) -> Difference:
    name = want.name
    what = f"default is {have.default or 'none'}, expected {want.default or 'none'}"
    if name in TIMESTAMPS:
        handled = (
            "0002_expand sets DEFAULT now() (modelreg's inserts rely on it); "
            f"{DOWN} gives back {have.default or 'no default'}"
        )
    elif name in MAPPED:
        handled = (
            "kept: modelreg's writers always set this column; 0006_contract records it and "
            "its downgrade gives it back"
        )
    else:
        handled = "kept: modelreg's writers always set this column"
    return Difference(f"column {name}", what, False, handled)


def _enum_differences(
    enum: str, labels: tuple[str, ...], actual: Shape, rows: _RowProbe
) -> list[Difference]:
    have = actual.enums.get(enum)
    subject = f"type {enum}"
    if have is None:
        return [
            Difference(
                subject,
                f"missing (expected enum {', '.join(labels)})",
                True,
                f"create it (CREATE TYPE {enum} AS ENUM (...)) or rename the enum the columns "
                f"use (ALTER TYPE ... RENAME TO {enum})",
            )
        ]
    out: list[Difference] = []
    listed = f"labels are ({', '.join(have)}), expected ({', '.join(labels)})"
    lacking = [label for label in labels if label not in have]
    if lacking:
        out.append(
            Difference(
                subject,
                listed,
                True,
                "; ".join(f"ALTER TYPE {enum} ADD VALUE '{label}'" for label in lacking),
            )
        )
    for label in (label for label in have if label not in labels):
        used = rows.ids(
            " OR ".join(_uses_label(col) for col in ENUM_COLUMNS[enum]), {"label": label}
        )
        if used:
            out.append(
                Difference(
                    subject,
                    f"label '{label}' is not in the baseline and rows {_listed(used)} use it",
                    True,
                    "change those rows to a baseline label ("
                    + "; ".join(_label_fix(col, label) for col in ENUM_COLUMNS[enum])
                    + "), then run `modelreg db adopt` again",
                )
            )
        else:
            out.append(
                Difference(
                    subject,
                    f"extra label '{label}', used by no row",
                    False,
                    "kept; 0006_contract records the labels and its downgrade gives them back",
                )
            )
    if not lacking and [x for x in have if x in labels] != list(labels):
        out.append(Difference(subject, listed, False, "kept: modelreg does not order labels"))
    return out


def _uses_label(column: str) -> str:
    if column in ("capabilities", "allowed_tiers"):
        return f"CAST(:label AS text) = ANY (CAST({column} AS text[]))"
    return f"CAST({column} AS text) = :label"


def _label_fix(column: str, label: str) -> str:
    if column in ("capabilities", "allowed_tiers"):
        return (
            f"UPDATE models SET {column} = array_remove({column}, '{label}') "
            f"WHERE '{label}' = ANY ({column})"
        )
    return f"UPDATE models SET {column} = '<a baseline label>' WHERE {column} = '{label}'"


def _current_revision(conn: Connection) -> str | None:
    if not conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar_one():
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _expected_shape(conn: Connection) -> Shape:
    with conn.begin_nested() as probe:
        conn.execute(text(f"CREATE SCHEMA {PROBE_SCHEMA}"))
        conn.execute(text(f"SET LOCAL search_path = {PROBE_SCHEMA}"))
        for statement in baseline.CREATE_TYPES:
            conn.execute(text(statement))
        conn.execute(text(baseline.CREATE_TABLE))
        shape = legacy_shape.read(conn, PROBE_SCHEMA)
        probe.rollback()
    return shape
