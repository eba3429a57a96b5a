"""0013_gin_fastupdate: the GIN indexes on `meta` take writes straight into their tree, on a
database built before (pending list on) as on one built now; what a pending list held is moved
into the index, and the indexes still answer what they answered."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from modelreg.db import jsonb, migrate
from modelreg.verify.report import build_report
from tests.db.test_sync_trigger import NEW_META

GIN = ("idx_models_meta_gin", "idx_models_meta_capabilities")


def _options(conn: Connection) -> dict[str, list[str] | None]:
    rows = conn.execute(
        text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
        {"names": list(GIN)},
    )
    return {str(r.relname): r.reloptions for r in rows}


def _pending_pages(conn: Connection, name: str) -> int:
    """Pages in the index's pending list: what moving it into the tree would move (asked in a
    savepoint that is rolled back, so the list stays as it is)."""
    with conn.begin_nested() as probe:
        moved = conn.execute(
            text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": name}
        ).scalar_one()
        probe.rollback()
    return int(moved)


def test_upgrade_turns_fastupdate_off_and_empties_the_pending_lists(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("0012_price_schedule")
    engine = engine_for(url)
    with engine.begin() as conn:
        assert _options(conn) == {name: ["fastupdate=off"] for name in GIN}
        # As 0004_indexes built them before: PostgreSQL's default, fastupdate on.
        for name in GIN:
            conn.execute(text(f"ALTER INDEX {name} RESET (fastupdate)"))
    with engine.begin() as conn:
        for i in range(200):
            meta = {**NEW_META, "capabilities": ["text", "vision"], "description": f"row {i}"}
            conn.execute(
                text(
                    "INSERT INTO models (id, name, provider, meta)"
                    " VALUES (:id, :id, 'openai', CAST(:meta AS jsonb))"
                ),
                {"id": f"pending-{i}", "meta": jsonb.dumps(meta)},
            )
    with engine.connect() as conn:
        assert all(_pending_pages(conn, name) > 0 for name in GIN)

    migrate.upgrade(url, "0013_gin_fastupdate")

    with engine.connect() as conn:
        assert _options(conn) == {name: ["fastupdate=off"] for name in GIN}
        assert [_pending_pages(conn, name) for name in GIN] == [0, 0]
    with engine.connect() as conn:
        report = build_report(conn)
        assert report.ok, report.to_json()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        found = conn.execute(
            text(
                "SELECT count(*) FROM models WHERE meta->'capabilities' @> '[\"vision\"]'"
                ' AND meta @> \'{"description": "row 7"}\''
            )
        ).scalar_one()
        assert found == 1


def test_downgrade_keeps_the_setting_and_the_upgrade_again_is_a_no_op(
    database_at: Callable[[str], URL], engine_for: Callable[[URL], Engine]
) -> None:
    url = database_at("head")
    migrate.downgrade(url, "0012_price_schedule")
    with engine_for(url).connect() as conn:
        assert _options(conn) == {name: ["fastupdate=off"] for name in GIN}
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    with engine_for(url).connect() as conn:
        report = build_report(conn)
        assert report.ok, report.to_json()
