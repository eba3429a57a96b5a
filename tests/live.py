"""Live instances for the tests that race requests: several apps, each served by uvicorn in a
thread of its own, over one database; and the check that the change log agrees with the rows."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest
import uvicorn
from sqlalchemy.engine import URL

from modelreg.config import get_settings
from modelreg.db.urls import libpq_conninfo

START_DEADLINE_S = 30.0


@contextmanager
def _serve() -> Iterator[str]:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        "modelreg.app:create_app", factory=True, lifespan="on", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("an instance did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listening.close()


@contextmanager
def live_instances(url: URL, count: int = 2, **settings: str) -> Iterator[list[str]]:
    """`count` instances over the database at `url` (MODELREG_<KEY> settings on top); their
    base URLs."""
    with pytest.MonkeyPatch.context() as patch, ExitStack() as stack:
        patch.setenv("MODELREG_DATABASE_URL", url.render_as_string(hide_password=False))
        patch.setenv("MODELREG_LOG_REQUESTS", "false")
        for key, value in settings.items():
            patch.setenv(f"MODELREG_{key.upper()}", value)
        get_settings.cache_clear()
        try:
            yield [stack.enter_context(_serve()) for _ in range(count)]
        finally:
            get_settings.cache_clear()


# Every model's row version is its latest version in the history, every version from 1 to it
# is there, and every version has the audit event of its change (same model, same version).
HISTORY_DISAGREEMENTS = """
SELECT m.id, m.version, count(v.version) AS versions, max(v.version) AS latest,
       count(e.id) AS events
FROM models m
LEFT JOIN model_versions v ON v.model_id = m.id
LEFT JOIN audit_events e
  ON e.id = v.audit_event_id AND e.model_id = v.model_id AND e.model_version = v.version
GROUP BY m.id, m.version
HAVING max(v.version) IS DISTINCT FROM m.version
    OR count(v.version) <> m.version
    OR count(e.id) <> count(v.version)
"""

ORPHAN_VERSIONS = """
SELECT v.model_id, v.version FROM model_versions v
LEFT JOIN models m ON m.id = v.model_id
WHERE m.id IS NULL OR v.version > m.version
"""


def assert_history_agrees(url: URL) -> None:
    """Nothing written in half: rows, versions and audit events tell the same story."""
    with psycopg.connect(libpq_conninfo(url)) as conn:
        disagreements = conn.execute(HISTORY_DISAGREEMENTS).fetchall()
        orphans = conn.execute(ORPHAN_VERSIONS).fetchall()
    assert disagreements == [], disagreements
    assert orphans == [], orphans
