"""Adopt a database whose `models` table another tool created in the baseline shape.

The expected shape is not written down twice: it is built from 0001_baseline's own DDL in a
throw-away schema inside a transaction that is rolled back, and the two are compared column by
column (type, nullability, default), along with the enum labels and the primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from modelreg.db import baseline
from modelreg.db.exceptions import AdoptionMismatch

PROBE_SCHEMA = "modelreg_adopt_probe"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None


@dataclass(frozen=True)
class Shape:
    columns: dict[str, Column]
    enums: dict[str, tuple[str, ...]]
    primary_key: tuple[str, ...]


class AlreadyManaged(Exception):
    def __init__(self, revision: str):
        super().__init__(f"this database is already managed by modelreg (revision {revision})")
        self.revision = revision


def check(conn: Connection) -> list[str]:
    """Differences between the database's `models` and the baseline (empty: adoptable)."""
    version = _current_revision(conn)
    if version is not None:
        raise AlreadyManaged(version)
    if not conn.execute(text("SELECT to_regclass('public.models') IS NOT NULL")).scalar_one():
        return ["there is no table public.models to adopt"]
    actual = _shape(conn, "public")
    expected = _expected_shape(conn)
    return diff(expected, actual)


def diff(expected: Shape, actual: Shape) -> list[str]:
    differences: list[str] = []
    for name, want in expected.columns.items():
        have = actual.columns.get(name)
        if have is None:
            differences.append(f"column {name}: missing (expected {want.type})")
            continue
        if have.type != want.type:
            differences.append(f"column {name}: type is {have.type}, expected {want.type}")
        if have.not_null != want.not_null:
            differences.append(
                f"column {name}: {'NOT NULL' if have.not_null else 'nullable'}, "
                f"expected {'NOT NULL' if want.not_null else 'nullable'}"
            )
        if have.default != want.default:
            differences.append(
                f"column {name}: default is {have.default or 'none'}, "
                f"expected {want.default or 'none'}"
            )
    for name in sorted(set(actual.columns) - set(expected.columns)):
        differences.append(f"column {name}: not in the baseline schema")
    for enum, labels in expected.enums.items():
        have_labels = actual.enums.get(enum)
        if have_labels is None:
            differences.append(f"type {enum}: missing (expected enum {', '.join(labels)})")
        elif have_labels != labels:
            differences.append(
                f"type {enum}: labels are ({', '.join(have_labels)}), "
                f"expected ({', '.join(labels)})"
            )
    if actual.primary_key != expected.primary_key:
        differences.append(
            f"primary key is ({', '.join(actual.primary_key) or 'none'}), "
            f"expected ({', '.join(expected.primary_key)})"
        )
    return differences


def adopt(conn: Connection) -> None:
    """Raise AdoptionMismatch listing every difference, or return if the shape matches."""
    differences = check(conn)
    if differences:
        raise AdoptionMismatch(differences)


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
        shape = _shape(conn, PROBE_SCHEMA)
        probe.rollback()
    return shape


def _shape(conn: Connection, schema: str) -> Shape:
    # Render types and defaults as seen from inside `schema`, so that the probe schema's enums
    # and public's compare equal by name.
    with conn.begin_nested() as view:
        conn.execute(text(f"SET LOCAL search_path = {schema}"))
        table = f"{schema}.models"
        columns = {
            str(r.name): Column(str(r.name), str(r.type), bool(r.not_null), r.default)
            for r in conn.execute(
                text(
                    "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,"
                    " a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default"
                    " FROM pg_attribute a"
                    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                    " WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0"
                    " AND NOT a.attisdropped"
                ),
                {"t": table},
            )
        }
        enums: dict[str, tuple[str, ...]] = {}
        for r in conn.execute(
            text(
                "SELECT t.typname AS name,"
                " array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels"
                " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"
                " JOIN pg_namespace n ON n.oid = t.typnamespace"
                " WHERE n.nspname = :s AND t.typname IN ('subscription_tier', 'model_capability')"
                " GROUP BY t.typname"
            ),
            {"s": schema},
        ):
            enums[str(r.name)] = tuple(r.labels)
        pk = conn.execute(
            text(
                "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i"
                " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                " WHERE i.indrelid = CAST(:t AS regclass) AND i.indisprimary"
            ),
            {"t": table},
        ).scalar()
        view.rollback()
    return Shape(columns, enums, tuple(pk or ()))
