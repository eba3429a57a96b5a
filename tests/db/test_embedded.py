"""The zero-configuration database: an embedded PostgreSQL started on demand, stopped cleanly,
whichever way the processes that use it end (real processes, real signals)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from modelreg.db import embedded
from tests.conftest import _scratch_dir

SCRIPT = """
import json, os, sys
from pathlib import Path
import psutil, psycopg
from modelreg.db import embedded
from modelreg.db.urls import libpq_conninfo, normalise

url = normalise(embedded.start(Path(sys.argv[1])))
with psycopg.connect(libpq_conninfo(url)) as conn:
    database = conn.execute("SELECT current_database()").fetchone()[0]
    version = conn.execute("SHOW server_version_num").fetchone()[0]
    settings = dict(conn.execute(
        "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(embedded.SETTINGS),)
    ).fetchall())
pid = int((Path(sys.argv[1]) / "pg" / "postmaster.pid").read_text().split()[0])
print(json.dumps({"database": database, "version": int(version), "pid": pid, "settings": settings,
                  "server_user": psutil.Process(pid).username()}))
"""


def test_starts_on_demand_serves_and_stops_when_its_process_exits(scratch_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(scratch_dir / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["database"] == "modelreg"
    assert seen["version"] >= 140000
    # Its own settings are in effect for the first connection already.
    assert seen["settings"] == embedded.SETTINGS
    assert seen["settings"]["wal_init_zero"] == "on"
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root; the server runs as an unprivileged user instead.
        assert seen["server_user"] != "root"
    assert not psutil.pid_exists(seen["pid"]) or psutil.Process(seen["pid"]).status() == "zombie"
    assert not (scratch_dir / "data" / "pg" / "postmaster.pid").exists()


def test_data_survives_a_restart(scratch_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    write = (
        "import sys, psycopg\nfrom pathlib import Path\nfrom modelreg.db import embedded\n"
        "from modelreg.db.urls import libpq_conninfo, normalise\n"
        "url = normalise(embedded.start(Path(sys.argv[1])))\n"
        "with psycopg.connect(libpq_conninfo(url), autocommit=True) as c:\n"
        "    c.execute(sys.argv[2])\n"
        "    print(c.execute('SELECT count(*) FROM kept').fetchone()[0])\n"
    )
    data = str(scratch_dir / "data")
    first = subprocess.run(
        [sys.executable, "-c", write, data, "CREATE TABLE kept AS SELECT 1 AS x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", write, data, "SELECT 1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "1"


# A command that uses the embedded server, then waits (on standard input) until it is ended.
HOLD = """
import sys
from modelreg.db.urls import database_url
database_url()
print("ready", flush=True)
sys.stdin.read()
"""
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    return {**env, "MODELREG_DATA_DIR": str(data), **extra}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds (a bound, not a timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout}s")
        time.sleep(0.05)


def _postmaster(data: Path) -> int | None:
    pidfile = data / "pg" / "postmaster.pid"
    try:
        return int(pidfile.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _gone(pid: int) -> bool:
    return not _running(pid)


def _hold(data: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        env=_env(data),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def _end(process: subprocess.Popen[str], signum: int) -> int:
    process.send_signal(signum)
    code = process.wait(timeout=120)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
    return code


@pytest.fixture(scope="module")
def data() -> Iterator[Path]:
    """One data directory for the tests below (initialised once): each leaves the server
    stopped, as it asserts; one that fails has it stopped here, by its process id."""
    for scratch in _scratch_dir():
        yield scratch / "data"
        leftover = _postmaster(scratch / "data")
        if leftover is not None and _running(leftover):
            os.kill(leftover, signal.SIGINT)  # PostgreSQL's fast shutdown
            _wait_for(functools.partial(_gone, leftover), "a leftover server to stop")


def _stopped(data: Path, pid: int) -> None:
    _wait_for(lambda: not _running(pid), "the embedded server to stop")
    assert _postmaster(data) is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_command_ended_by_a_signal_stops_the_server_it_started(data: Path, signum: int) -> None:
    command = _hold(data)
    server = _postmaster(data)
    assert server is not None
    assert _running(server)
    code = _end(command, signum)
    assert code != 0  # it was ended, not finished
    _stopped(data, server)


def test_a_process_that_joined_leaves_the_server_to_the_one_that_started_it(data: Path) -> None:
    first = _hold(data)
    server = _postmaster(data)
    assert server is not None
    second = _hold(data)
    assert _postmaster(data) == server  # joined, did not start another

    _end(second, signal.SIGTERM)
    assert _running(server)
    socket_dir = (data / "pg").resolve()
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="modelreg") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    _end(first, signal.SIGTERM)
    _stopped(data, server)


def test_the_process_that_started_it_leaves_it_to_one_that_joined(data: Path) -> None:
    first = _hold(data)
    server = _postmaster(data)
    assert server is not None
    second = _hold(data)

    _end(first, signal.SIGTERM)
    assert _running(server)

    assert second.stdin is not None
    assert second.stdout is not None
    second.stdin.close()  # the joined command finishes normally: it is the last user
    assert second.wait(timeout=120) == 0
    second.stdout.close()
    _stopped(data, server)


def test_a_process_killed_outright_does_not_keep_the_server_running_for_ever(data: Path) -> None:
    killed = _hold(data)
    server = _postmaster(data)
    assert server is not None
    _end(killed, signal.SIGKILL)  # no exit handler can run: the server is left behind
    assert _running(server)

    later = _hold(data)
    assert _postmaster(data) == server
    _end(later, signal.SIGTERM)
    _stopped(data, server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# The line each HTTP server logs once it serves: proof its own logs go through modelreg's.
STARTED = {"uvicorn": "Application startup complete", "granian": "Started worker-1"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("http_server", ["uvicorn", "granian"])
def test_serve_stops_the_server_it_started_on_sigterm_and_ctrl_c(
    data: Path, http_server: str, signum: int
) -> None:
    port = _free_port()
    serve = subprocess.Popen(
        [str(BIN / "modelreg"), "serve", "--migrate", "--port", str(port), "--server", http_server],
        env=_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _answers(port), "modelreg serve to answer")
        server = _postmaster(data)
        assert server is not None
        workers = psutil.Process(serve.pid).children(recursive=True)
        # Ctrl-C reaches the whole foreground process group.
        os.killpg(serve.pid, signum)
        _, log = serve.communicate(timeout=120)
        _stopped(data, server)
        _wait_for(lambda: not any(_running(w.pid) for w in workers), "the workers to exit")
        # Its log: JSON lines, none with a terminal's colour codes.
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(STARTED[http_server] in line["msg"] for line in lines), log[-3000:]
        assert "\\u001b" not in log
        assert all("color_message" not in line for line in lines)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


@pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv" / "bin" / "modelreg").exists(),
    reason="needs make and the project's .venv (what `make test` sets up)",
)
@pytest.mark.slow
def test_ctrl_c_on_make_run_leaves_nothing_running(data: Path) -> None:
    port = _free_port()
    # -o: take the virtualenv as it is (a test must not reinstall it).
    run = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "run"],
        cwd=ROOT,
        env=_env(data, MODELREG_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _answers(port), "make run to serve", timeout=300)
        server = _postmaster(data)
        assert server is not None
        children = psutil.Process(run.pid).children(recursive=True)
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=120)
        _stopped(data, server)
        _wait_for(lambda: not any(_running(c.pid) for c in children), "make's children to exit")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
