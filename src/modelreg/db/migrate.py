"""Alembic, driven from Python: upgrade, downgrade, current revision, history, offline SQL."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from modelreg.config import get_settings
from modelreg.db.engine import sync_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BASELINE = "0001_baseline"


def alembic_config(
    url: URL | None = None,
    *,
    backfill_progress: Callable[[int, int], None] | None = None,
    output: io.StringIO | None = None,
) -> Config:
    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = url
    if backfill_progress is not None:
        config.attributes["backfill_progress"] = backfill_progress
    return config


def _is_lock_timeout(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and isinstance(exc.orig, psycopg.errors.LockNotAvailable)


def _with_lock_retries(
    run: Callable[[], None], on_retry: Callable[[int, float], None] | None
) -> None:
    """Run a migration; when a DDL statement gives up waiting for its lock, wait and run again.

    Each revision is its own transaction, so a retry resumes at the revision that timed out.
    """
    retries = get_settings().migration.lock_retries
    for attempt in range(retries + 1):
        try:
            run()
            return
        except DBAPIError as exc:
            if not _is_lock_timeout(exc) or attempt == retries:
                raise
            delay = min(5.0, 0.2 * 2**attempt) * (0.5 + random.random())
            if on_retry is not None:
                on_retry(attempt + 1, delay)
            time.sleep(delay)


def upgrade(
    url: URL,
    revision: str = "head",
    *,
    progress: Callable[[int, int], None] | None = None,
    on_retry: Callable[[int, float], None] | None = None,
) -> tuple[str | None, str | None]:
    """Migrate up to `revision`; (revision before, revision after)."""
    config = alembic_config(url, backfill_progress=progress)
    before = current_revision(url)
    _with_lock_retries(lambda: command.upgrade(config, revision), on_retry)
    return before, current_revision(url)


def downgrade(
    url: URL, revision: str, *, on_retry: Callable[[int, float], None] | None = None
) -> tuple[str | None, str | None]:
    """Migrate down to `revision`; (revision before, revision after)."""
    config = alembic_config(url)
    before = current_revision(url)
    _with_lock_retries(lambda: command.downgrade(config, revision), on_retry)
    return before, current_revision(url)


def stamp(url: URL, revision: str) -> None:
    command.stamp(alembic_config(url), revision)


def offline_sql(revision_range: str = "base:head", *, downgrade: bool = False) -> str:
    """The SQL a revision range would run, as `alembic upgrade --sql` prints it."""
    output = io.StringIO()
    config = alembic_config(output=output)
    if downgrade:
        command.downgrade(config, revision_range, sql=True)
    else:
        command.upgrade(config, revision_range, sql=True)
    return _annotate_version_table(output.getvalue())


def _annotate_version_table(sql: str) -> str:
    """Mark alembic's own bookkeeping table as intended for the migration linter (squawk):
    its shape is alembic's, not ours to restyle."""
    return sql.replace(
        "CREATE TABLE alembic_version (\n    version_num VARCHAR(32) NOT NULL",
        "-- squawk-ignore prefer-robust-stmts\nCREATE TABLE alembic_version (\n"
        "    -- squawk-ignore prefer-text-field\n    version_num VARCHAR(32) NOT NULL",
    )


def current_revision(url: URL) -> str | None:
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def history() -> list[tuple[str, str]]:
    """(revision id, one-line description), oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    revisions.reverse()
    return [(rev.revision, (rev.doc or "").splitlines()[0]) for rev in revisions]
