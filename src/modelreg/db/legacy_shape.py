"""What the baseline-shaped `models` table looked like, read from the catalog and kept so that a
downgrade gives it back: the adopted table (`modelreg db adopt`) and, at 0006_contract, the old
columns, enum types and indexes that revision drops.

Part of the migrations' history (0002_expand and 0006_contract use it): change it only together
with a new revision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

TABLE = "modelreg_legacy_shape"
ADOPTED = "adopt"
CONTRACT = "0006_contract"

CREATE_TABLE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    recorded_by text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('column', 'index', 'enum')),
    name text NOT NULL,
    type text,
    not_null boolean,
    default_expr text,
    definition text,
    labels text[],
    PRIMARY KEY (recorded_by, kind, name)
)"""

DROP_TABLE = f"DROP TABLE IF EXISTS {TABLE}"

# The enum types of the baseline, and the columns that hold their labels.
ENUM_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscription_tier": ("required_tier", "allowed_tiers"),
    "model_capability": ("capabilities",),
}


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
    # Secondary indexes (not the primary key's): name -> pg_get_indexdef().
    indexes: dict[str, str] = field(default_factory=dict)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def read(conn: Connection, schema: str = "public") -> Shape:
    """The shape of `<schema>.models`, types and defaults rendered as seen from inside `schema`
    (so that enums of two schemas compare equal by name)."""
    with conn.begin_nested() as view:
        conn.execute(text(f"SET LOCAL search_path = {quote(schema)}"))
        table = f"{quote(schema)}.models"
        columns = {
            str(r.name): Column(str(r.name), str(r.type), bool(r.not_null), r.default)
            for r in conn.execute(
                text(
                    "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,"
                    " a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default"
                    " FROM pg_attribute a"
                    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                    " WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0"
                    " AND NOT a.attisdropped ORDER BY a.attnum"
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
                " WHERE n.nspname = :s AND t.typname = ANY(:names)"
                " GROUP BY t.typname"
            ),
            {"s": schema, "names": list(ENUM_COLUMNS)},
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
        indexes = {
            str(r.name): str(r.definition)
            for r in conn.execute(
                text(
                    "SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition"
                    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisprimary"
                    " ORDER BY c.relname"
                ),
                {"t": table},
            )
        }
        view.rollback()
    return Shape(columns, enums, tuple(pk or ()), indexes)


def record(conn: Connection, recorded_by: str, shape: Shape) -> None:
    """Keep `shape` under `recorded_by` (replacing what was kept there before)."""
    conn.execute(text(CREATE_TABLE))
    conn.execute(text(f"DELETE FROM {TABLE} WHERE recorded_by = :by"), {"by": recorded_by})
    rows: list[dict[str, object]] = []
    for c in shape.columns.values():
        rows.append(
            {"kind": "column", "name": c.name, "type": c.type, "not_null": c.not_null,
             "default_expr": c.default, "definition": None, "labels": None}
        )  # fmt: skip
    for name, definition in shape.indexes.items():
        rows.append(
            {"kind": "index", "name": name, "type": None, "not_null": None,
             "default_expr": None, "definition": definition, "labels": None}
        )  # fmt: skip
    for name, labels in shape.enums.items():
        rows.append(
            {"kind": "enum", "name": name, "type": None, "not_null": None,
             "default_expr": None, "definition": None, "labels": list(labels)}
        )  # fmt: skip
    if rows:
        conn.execute(
            text(
                f"INSERT INTO {TABLE}"
                " (recorded_by, kind, name, type, not_null, default_expr, definition, labels)"
                " VALUES (:by, :kind, :name, :type, :not_null, :default_expr, :definition,"
                " :labels)"
            ),
            [{"by": recorded_by, **row} for row in rows],
        )


def recorded(conn: Connection, recorded_by: str) -> Shape | None:
    """What was kept under `recorded_by`, or None (nothing recorded)."""
    if not conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        return None
    rows = conn.execute(
        text(
            f"SELECT kind, name, type, not_null, default_expr, definition, labels FROM {TABLE}"
            " WHERE recorded_by = :by ORDER BY kind, name"
        ),
        {"by": recorded_by},
    ).all()
    if not rows:
        return None
    columns: dict[str, Column] = {}
    enums: dict[str, tuple[str, ...]] = {}
    indexes: dict[str, str] = {}
    for r in rows:
        if r.kind == "column":
            columns[r.name] = Column(r.name, r.type, bool(r.not_null), r.default_expr)
        elif r.kind == "enum":
            enums[r.name] = tuple(r.labels)
        else:
            indexes[r.name] = r.definition
    return Shape(columns, enums, (), indexes)


def forget(conn: Connection, recorded_by: str) -> None:
    if conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": TABLE}).scalar_one():
        conn.execute(text(f"DELETE FROM {TABLE} WHERE recorded_by = :by"), {"by": recorded_by})


def record_before_contract_sql(columns: Iterable[str]) -> tuple[str, ...]:
    """SQL (online and offline alike) that keeps what 0006_contract is about to drop: the old
    columns as they are, the labels of the enum types, and every index that covers one of those
    columns (in its key, expression or predicate), which DROP COLUMN would take with it."""
    names = "ARRAY[" + ", ".join(f"'{c}'" for c in columns) + "]::text[]"
    enums = "ARRAY[" + ", ".join(f"'{e}'" for e in ENUM_COLUMNS) + "]::text[]"
    upsert = (
        " ON CONFLICT (recorded_by, kind, name) DO UPDATE SET type = EXCLUDED.type,"
        " not_null = EXCLUDED.not_null, default_expr = EXCLUDED.default_expr,"
        " definition = EXCLUDED.definition, labels = EXCLUDED.labels"
    )
    return (
        CREATE_TABLE,
        f"DELETE FROM {TABLE} WHERE recorded_by = '{CONTRACT}'",
        f"INSERT INTO {TABLE} (recorded_by, kind, name, type, not_null, default_expr)"
        f" SELECT '{CONTRACT}', 'column', a.attname, format_type(a.atttypid, a.atttypmod),"
        " a.attnotnull, pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_attribute a"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = 'models'::regclass AND NOT a.attisdropped"
        f" AND a.attname = ANY ({names})" + upsert,
        f"INSERT INTO {TABLE} (recorded_by, kind, name, labels)"
        f" SELECT '{CONTRACT}', 'enum', t.typname,"
        " array_agg(e.enumlabel::text ORDER BY e.enumsortorder)"
        " FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid"
        f" WHERE t.oid IN (SELECT to_regtype(n) FROM unnest({enums}) n)"
        " GROUP BY t.typname" + upsert,
        f"INSERT INTO {TABLE} (recorded_by, kind, name, definition)"
        f" SELECT DISTINCT '{CONTRACT}', 'index', c.relname, pg_get_indexdef(i.indexrelid)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass"
        " AND dep.objid = i.indexrelid AND dep.refobjid = i.indrelid"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = dep.refobjsubid"
        " WHERE i.indrelid = 'models'::regclass AND NOT i.indisprimary"
        f" AND a.attname = ANY ({names})" + upsert,
    )


def add_column_sql(column: Column) -> str:
    """`ADD COLUMN` as recorded; NOT NULL only where a default fills existing rows (set the
    others NOT NULL once they hold values)."""
    clause = f"ADD COLUMN {quote(column.name)} {column.type}"
    if column.default is not None:
        clause += f" DEFAULT {column.default}"
        if column.not_null:
            clause += " NOT NULL"
    return clause


def create_enum_sql(name: str, labels: Iterable[str]) -> str:
    listed = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
    return f"CREATE TYPE {quote(name)} AS ENUM ({listed})"


def restore_column_sql(current: Column, wanted: Column) -> list[str]:
    """ALTER TABLE clauses that give `current` the type and default of `wanted`."""
    clauses: list[str] = []
    name = quote(wanted.name)
    if current.type != wanted.type:
        clauses.append(f"ALTER COLUMN {name} TYPE {wanted.type}")
    if current.default != wanted.default or current.type != wanted.type:
        clauses.append(
            f"ALTER COLUMN {name} DROP DEFAULT"
            if wanted.default is None
            else f"ALTER COLUMN {name} SET DEFAULT {wanted.default}"
        )
    return clauses
