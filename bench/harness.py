"""What the benchmarks in bench/ share: the start and end of a run (server, fresh database,
environment, command line, SIGTERM), statistics, the report (Markdown tables on stdout, every
figure as JSON), server processes on loopback ports, and wrk.

Not a benchmark itself; the scripts import it (they run as scripts, so bench/ is on `sys.path`).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from modelreg.db import embedded, migrate
from modelreg.db.urls import libpq_conninfo, normalise

BENCH_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The run


def arguments(doc: str | None, *, strict: bool = True) -> argparse.ArgumentParser:
    """A command line with the options every benchmark takes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use (default: MODELREG_BENCH_DATABASE_URL, else an"
        " embedded server in a temporary directory); the run creates its own database on it"
        " and drops it at the end",
    )
    parser.add_argument("--output", type=Path, help="also write every figure as JSON")
    if strict:
        parser.add_argument(
            "--strict", action="store_true", help="exit with status 1 when a target is missed"
        )
    return parser


def int_list(text: str) -> list[int]:
    """`20,2000` as an argparse type."""
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("every value must be at least 1")
    return values


def stop_on_sigterm() -> None:
    """Turn SIGTERM (from `timeout`, or a CI runner) into SystemExit, so that `finally` blocks
    stop the servers this run started and drop its database."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def start(database_url: str | None, **extra: Any) -> tuple[URL, dict[str, Any]]:
    """The start of a run: SIGTERM handled, the PostgreSQL server to use (see `server_url`),
    and what the result is measured on (machine, versions, server kind, load average)."""
    stop_on_sigterm()
    env: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uvicorn": importlib.metadata.version("uvicorn"),
        "modelreg": importlib.metadata.version("modelreg"),
        **extra,
    }
    admin, env["database"] = server_url(database_url)
    env["load_before"] = load_average()
    return admin, env


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine shows up here."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def finish(
    args: argparse.Namespace,
    report: Report,
    document: dict[str, Any],
    env: dict[str, Any] | None = None,
) -> int:
    """The end of a run: the report on stdout, `document` (with the environment and the
    targets) as JSON to --output; exit status 1 under --strict when a target was missed."""
    if env is not None:
        env.setdefault("load_after", load_average())
        document = {**document, "environment": env}
    document["targets"] = [t.as_dict() for t in report.targets]
    print(report.markdown(), end="", flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
        log(f"wrote {args.output}")
    missed = any(t.ok is not True for t in report.targets)
    return 1 if getattr(args, "strict", False) and missed else 0


class Worker(threading.Thread):
    """A daemon thread running `loop()` until `stop()`; what ended it with an exception is kept
    in `crashed`, for the main thread to raise (`check()`)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.crashed: BaseException | None = None

    def loop(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:  # reported by the main thread
            self.crashed = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def check(self) -> None:
        if self.crashed is not None:
            raise RuntimeError(f"{self.name} crashed") from self.crashed


def timed(call: Callable[[int], object], count: int, budget_s: float) -> tuple[list[float], bool]:
    """Call `call(i)` up to `count` times, stopping once `budget_s` is spent: the latency of
    each call in ms, and whether the budget cut the series short."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        if time.perf_counter() - started > budget_s:
            return latencies, True
        t0 = time.perf_counter()
        call(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies, False


# --------------------------------------------------------------------------------------------
# Statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float | None]) -> float | None:
    return percentile([v for v in values if v is not None], 50)


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Summary:
    """Latencies in milliseconds."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> Summary:
        return cls(
            count=len(values_ms),
            p50_ms=percentile(values_ms, 50),
            p99_ms=percentile(values_ms, 99),
            max_ms=max(values_ms) if values_ms else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50_ms": rounded(self.p50_ms),
            "p99_ms": rounded(self.p99_ms),
            "max_ms": rounded(self.max_ms),
        }

    def cells(self, digits: int = 2) -> list[str]:
        """p50, p99 and max, for a table row."""
        return [fmt(self.p50_ms, digits), fmt(self.p99_ms, digits), fmt(self.max_ms, digits)]


# --------------------------------------------------------------------------------------------
# The report


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    if value >= 0.1 or value == 0:
        return f"{value:.2f}x"
    return f"{value:.2g}x"


def pass_fail(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "FAIL")


def fmt_rate(value: float | None) -> str:
    """Requests per second: whole numbers, except below 100."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(header: str | Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; `header` may be one string with the columns separated by " | "."""
    if isinstance(header, str):
        header = header.split(" | ")
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    ok: bool | None  # None: not measured

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.name, "measured": self.measured, "ok": self.ok}


class Report:
    """A benchmark's Markdown report: a title, then paragraphs, tables, notes, targets."""

    def __init__(self, title: str) -> None:
        self.blocks = [f"## {title}\n"]
        self.targets: list[Target] = []

    def text(self, paragraph: str) -> None:
        self.blocks.append(paragraph + "\n")

    def section(self, title: str) -> None:
        self.blocks.append(f"### {title}\n")

    def table(self, header: str | Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(table(header, rows))

    def notes(self, notes: Sequence[str]) -> None:
        if notes:
            self.blocks.append("\n".join(f"- {n}" for n in notes) + "\n")

    def add_targets(self, targets: Sequence[Target], title: str = "Targets") -> None:
        self.targets += targets
        self.section(title)
        ok = {True: "PASS", False: "FAIL", None: "—"}
        self.table(
            ["target", "measured", "result"], [[t.name, t.measured, ok[t.ok]] for t in targets]
        )

    def markdown(self) -> str:
        return "\n".join(self.blocks)


# --------------------------------------------------------------------------------------------
# Database


def server_url(given: str | None) -> tuple[URL, str]:
    """The admin URL of the PostgreSQL server to use, and what kind of server it is.

    `given`, else MODELREG_BENCH_DATABASE_URL, else an embedded server under a temporary
    directory that is removed at exit.
    """
    given = given or os.environ.get("MODELREG_BENCH_DATABASE_URL")
    if given:
        return normalise(given), "external"
    data_dir = Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
    # Registered before the server's own exit hook, so it runs after the server has stopped.
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    log(f"starting an embedded PostgreSQL under {data_dir}")
    return normalise(embedded.start(data_dir, database="postgres")), "embedded"


def _drop_database(admin: URL, name: str) -> None:
    with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def fresh_database(admin: URL, name: str, revision: str | None = "head") -> Iterator[URL]:
    """A new database `name`, migrated to `revision` (None: left empty); dropped at the end."""
    _drop_database(admin, name)
    with psycopg.connect(libpq_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin.set(database=name)
    try:
        if revision is not None:
            started = time.perf_counter()
            migrate.upgrade(url, revision)
            log(f"database {name} migrated to {revision} in {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        _drop_database(admin, name)


def url_text(url: URL) -> str:
    """The URL as MODELREG_DATABASE_URL takes it."""
    return url.render_as_string(hide_password=False)


def create_admin_token(url: URL) -> str:
    """`modelreg token create --name bench --role admin --quiet` against the bench database."""
    env = {**os.environ, "MODELREG_DATABASE_URL": url_text(url)}
    argv = ["token", "create", "--name", "bench", "--role", "admin", "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "modelreg.cli.main", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"modelreg token create failed: {done.stderr or done.stdout}")
    return lines[-1].strip()


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request on a new connection (for set-up and checks, not for load)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


class KeepAlive:
    """A persistent HTTP/1.1 connection that reconnects after an error."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=dict(headers or {}))
                response = self.conn.getresponse()
                data = response.read()
                return Reply(
                    response.status, {k.lower(): v for k, v in response.getheaders()}, data
                )
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Servers


class ServerFailed(RuntimeError):
    pass


@dataclass
class Server:
    """A server process on a loopback port: started, polled until ready, measured, stopped."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    cwd: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_s: float | None = None
    rss_samples: list[int] = field(default_factory=list)
    ready_path: str = "/"
    ready_headers: dict[str, str] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)  # ready times after a restart

    def start(self) -> None:
        log_file = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()

    def wait_ready(
        self, path: str, *, headers: Mapping[str, str] | None = None, timeout: float = 120.0
    ) -> float:
        """Poll `path` every 5 ms until it answers 200; the time since the process started."""
        assert self.proc is not None
        self.ready_path = path
        self.ready_headers = dict(headers or {})
        deadline = self.started_at + timeout
        last_error = "no answer"
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(
                    f"{self.name} exited with status {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                reply = http_request(self.port, "GET", path, headers=headers, timeout=timeout)
                if reply.status == 200:
                    ready = time.perf_counter() - self.started_at
                    if self.ready_s is None:
                        self.ready_s = ready
                    return ready
                last_error = f"HTTP {reply.status}: {reply.body[:300]!r}"
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.005)
        raise ServerFailed(
            f"{self.name} not ready after {timeout:.0f} s ({last_error}): {self.log_tail()}"
        )

    def processes(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int | None:
        """Resident memory of the server (its process and any children), in bytes."""
        total = 0
        procs = self.processes()
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += int(p.memory_info().rss)
        return total if procs else None

    def sample_rss(self) -> int | None:
        value = self.rss()
        if value is not None:
            self.rss_samples.append(value)
        return value

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = p.cpu_times()
                total += float(times.user + times.system)
        return total

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log (read from its end: with an access log on, the
        log of a long run holds gigabytes)."""
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - 65_536))
                text = log_file.read().decode(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def restart(self, timeout: float = 120.0) -> float:
        """Stop and start again (same command, same port); the new process's ready time."""
        self.stop()
        self.start()
        ready = self.wait_ready(self.ready_path, headers=self.ready_headers, timeout=timeout)
        self.restarts.append(ready)
        return ready

    def stop(self) -> None:
        """SIGTERM to the process group this server was started in; SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def uvicorn_argv(python: str, target: str, port: int, *extra: str) -> list[str]:
    """The one uvicorn command line every server in a comparison runs under."""
    argv = [python, "-m", "uvicorn", target, *extra, "--host", LOOPBACK, "--port", str(port)]
    argv += ["--workers", "1", "--loop", "uvloop", "--http", "httptools"]
    return [*argv, "--no-access-log", "--log-level", "warning"]


def granian_argv(python: str, target: str, port: int, *extra: str) -> list[str]:
    """The same under granian: 1 worker, uvloop, no access log of its own; `--app-dir D` (as
    uvicorn spells it) becomes granian's `--working-dir D`."""
    options = ["--working-dir" if option == "--app-dir" else option for option in extra]
    argv = [python, "-m", "granian", "--interface", "asgi", *options]
    argv += ["--host", LOOPBACK, "--port", str(port), "--workers", "1", "--loop", "uvloop"]
    return [*argv, "--no-ws", "--no-access-log", "--log-level", "warning", target]


def modelreg_argv(python: str, port: int, server: str = "uvicorn") -> list[str]:
    """modelreg as its users start it, `modelreg serve`: one worker under `server` (uvicorn
    picks uvloop and httptools, as the other servers' command lines ask; granian, uvloop), and
    modelreg's own JSON logs with its access log on, as by default."""
    argv = [python, "-m", "modelreg.cli.main", "serve", "--host", LOOPBACK, "--port", str(port)]
    return [*argv, "--workers", "1", "--server", server]


def start_server(
    name: str, argv_for_port: Callable[[int], list[str]], workdir: Path, env: Mapping[str, str]
) -> Server:
    """The command `argv_for_port(port)` on a free loopback port, logging to
    `workdir/<name>.log`; `env` is added to this process's environment."""
    port = free_port()
    server = Server(
        name, argv_for_port(port), port, {**os.environ, **env}, workdir, workdir / f"{name}.log"
    )
    server.start()
    return server


def start_uvicorn(
    name: str,
    target: str,
    workdir: Path,
    env: Mapping[str, str],
    *extra: str,
    python: str = sys.executable,
    argv_for: Callable[..., list[str]] = uvicorn_argv,
) -> Server:
    """`target` under the one uvicorn command line every server in a comparison runs under (1
    worker, uvloop, httptools, no access log), on a free loopback port, logging to
    `workdir/<name>.log`; `env` is added to this process's environment. `argv_for=granian_argv`:
    the same under granian."""
    return start_server(name, lambda port: argv_for(python, target, port, *extra), workdir, env)


def start_modelreg(
    url: URL,
    workdir: Path,
    name: str = "modelreg",
    env: Mapping[str, str] | None = None,
    *,
    server: str = "uvicorn",
) -> Server:
    """`modelreg serve` over the database at `url` (see `modelreg_argv`)."""
    env = {"MODELREG_DATABASE_URL": url_text(url), **(env or {})}
    return start_server(
        name, lambda port: modelreg_argv(sys.executable, port, server), workdir, env
    )


def wait_idle(
    servers: Sequence[Server], *, cpu_fraction: float = 0.05, timeout: float = 60.0
) -> tuple[bool, float]:
    """Wait until none of `servers` uses more than `cpu_fraction` of a core over 200 ms (twice
    in a row); whether they got there within `timeout`, and the seconds waited.

    A server that fell behind keeps working through its queued requests after wrk has stopped
    (a closed connection does not cancel a request in progress); the next measurement must not
    share the CPU with that.
    """
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < timeout:
        before = sum(s.cpu_seconds() for s in servers)
        time.sleep(0.2)
        used = sum(s.cpu_seconds() for s in servers) - before
        quiet = quiet + 1 if used < cpu_fraction * 0.2 else 0
        if quiet >= 2:
            return True, time.perf_counter() - started
    return False, time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# wrk


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    p50_ms: float | None
    p75_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    transfer_mb_per_s: float | None

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_per_s": round(self.requests_per_s, 2),
            "requests": self.requests,
            "p50_ms": rounded(self.p50_ms),
            "p75_ms": rounded(self.p75_ms),
            "p90_ms": rounded(self.p90_ms),
            "p99_ms": rounded(self.p99_ms),
            "max_ms": rounded(self.max_ms),
            "non_2xx_3xx": self.non_2xx_3xx,
            "socket_errors": self.socket_errors,
            "transfer_mb_per_s": rounded(self.transfer_mb_per_s),
        }


_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_UNITS_MB = {"B": 1 / MB, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1024.0**2}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Parse the report of `wrk --latency`."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M)
    count = re.search(r"^\s*(\d+) requests in ", output, re.M)
    if rps is None or count is None:
        raise ValueError(f"not a wrk report:\n{output}")
    percentiles: dict[str, float] = {}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        percentiles[pct] = _ms(value)
    latency = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
        if errors
        else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    transfer = re.search(r"^Transfer/sec:\s+([0-9.]+)(B|KB|MB|GB|TB)", output, re.M)
    requests = int(count.group(1))
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        requests=requests,
        p50_ms=percentiles.get("50") if requests else None,
        p75_ms=percentiles.get("75") if requests else None,
        p90_ms=percentiles.get("90") if requests else None,
        p99_ms=percentiles.get("99") if requests else None,
        max_ms=_ms(latency.group(3)) if latency and requests else None,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        transfer_mb_per_s=(
            float(transfer.group(1)) * _SIZE_UNITS_MB[transfer.group(2)] if transfer else None
        ),
    )


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    threads: int = 2,
    headers: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> WrkResult:
    """One wrk run. `timeout_s` (default: the run's duration) is how long wrk waits for a
    response before it counts a timeout; a short one would hide slow responses from p99."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    seconds = max(1, round(duration_s))
    argv = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={max(2, round(timeout_s or seconds))}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def wrk_version() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False, timeout=10)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else None
