"""The ORM and the migrations agree: what Alembic would autogenerate at head is nothing."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.tables import drift


def test_orm_matches_the_migrated_schema(
    head_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    with engine_for(head_url).connect() as conn:
        assert drift(conn) == []


def test_a_column_the_migrations_changed_behind_the_orm_is_reported(
    head_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(head_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE api_tokens ALTER COLUMN last_used_at TYPE timestamp"))
        conn.execute(text("DROP INDEX idx_audit_events_occurred_at"))
    with engine.connect() as conn:
        found = drift(conn)
    flat = repr(found)
    assert "last_used_at" in flat
    assert "idx_audit_events_occurred_at" in flat
