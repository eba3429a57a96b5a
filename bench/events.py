"""Events benchmark: commit -> webhook received at a steady write rate, and the fan-out of one
change to many Server-Sent Events subscribers.

One modelreg instance (uvicorn, one worker) over a fresh seeded database. Webhooks: a receiver
on 127.0.0.1 (verifying every signature with `standardwebhooks`) subscribed to
`model.updated`; writers PATCH models at `--rate` changes/s for `--seconds`. The latency of a
change is from the moment its PATCH was sent to the moment the receiver got it: an upper bound
of commit -> received (the commit happens during the PATCH; its answer comes after the
instance's own snapshot reload, often after the webhook arrived).
SSE: `--subscribers` clients on `/v1/catalog/events` (one asyncio process), `--sse-changes`
changes a few hundred ms apart; the latency of a change for one subscriber is from its PATCH
being sent to that subscriber reading the event.

    .venv/bin/python bench/events.py [--database-url URL] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import URL
from standardwebhooks.webhooks import Webhook

import harness
from harness import Server, log, percentile
from modelreg.audit.repository import NOTIFY_CHANNEL
from modelreg.catalog.seed import seed_catalog
from modelreg.db.urls import libpq_conninfo

MODEL = "o3"
WRITERS = 16
WARMUP_CHANGES = 5  # sent before the measured ones, in each part


class Receiver:
    """Records when each change (by its display name) arrived; counts bad signatures."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}
        self.arrived_wall: dict[int, float] = {}  # by catalog revision, time.time()
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                now, wall = time.perf_counter(), time.time()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                    data = json.loads(body)["data"]
                    name = data["model"]["meta"]["displayName"]
                    with receiver.lock:
                        receiver.arrived.setdefault(name, now)
                        receiver.arrived_wall.setdefault(int(data["catalogRevision"]), wall)
                except Exception:
                    with receiver.lock:
                        receiver.bad += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((harness.LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Commits:
    """When each revision committed: the time PostgreSQL stamped in its notification (taken by
    the transaction's last statement, just before COMMIT), heard on a LISTEN connection."""

    def __init__(self, url: URL) -> None:
        self.at: dict[int, float] = {}
        self._conn = psycopg.connect(libpq_conninfo(url), autocommit=True)
        self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for notify in self._conn.notifies(timeout=0.2):
                revision, _, rest = notify.payload.partition(":")
                self.at[int(revision)] = float(rest.rpartition(":")[2])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


class Writer:
    """PATCHes the model's display name over one keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(harness.LOOPBACK, port, timeout=30)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/merge-patch+json",
        }

    def change(self, name: str, model: str = MODEL) -> tuple[float, float]:
        """(sent, answered) perf_counter times."""
        body = json.dumps({"meta": {"displayName": name}})
        sent = time.perf_counter()
        self.conn.request("PATCH", f"/admin/v1/models/{model}", body=body, headers=self.headers)
        reply = self.conn.getresponse()
        reply.read()
        answered = time.perf_counter()
        if reply.status != 200:
            raise RuntimeError(f"PATCH answered {reply.status}")
        return sent, answered


def start_instance(url: URL, workdir: Path) -> Server:
    port = harness.free_port()
    server = Server(
        name="modelreg",
        argv=harness.uvicorn_argv(sys.executable, "modelreg.app:create_app", port, "--factory"),
        port=port,
        env={
            **os.environ,
            "MODELREG_DATABASE_URL": harness.url_text(url),
            "MODELREG_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
            "MODELREG_LOG_REQUESTS": "false",
            "MODELREG_SUNSET__ENABLED": "false",
        },
        cwd=workdir,
        log_path=workdir / "instance.log",
    )
    server.start()
    server.wait_ready("/readyz")
    return server


def subscribe(port: int, token: str, receiver: Receiver) -> None:
    reply = httpx.post(
        f"http://{harness.LOOPBACK}:{port}/admin/v1/webhooks",
        json={
            "url": f"http://{harness.LOOPBACK}:{receiver.port}/hook",
            "events": ["model.updated"],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    reply.raise_for_status()
    receiver.secret = reply.json()["secret"]


def ms(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of `values` (seconds), in milliseconds."""
    found = percentile(values, q)
    return None if found is None else round(found * 1000, 1)


def quantiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> dict[str, Any]:
    return {f"p{q:g}": ms(values, q) for q in qs} | {"max": ms(values, 100)}


def webhooks(port: int, token: str, rate: float, seconds: float, url: URL) -> dict[str, Any]:
    """Changes sent on schedule by a pool of writers (each change to the next model in turn, so
    that writes do not queue on one row lock)."""
    receiver = Receiver()
    subscribe(port, token, receiver)
    commits = Commits(url)
    models = [
        m["id"] for m in httpx.get(f"http://{harness.LOOPBACK}:{port}/v1/models").json()["data"]
    ]
    local = threading.local()
    warm = Writer(port, token)
    for i in range(WARMUP_CHANGES):  # first requests compile and connect: not measured
        warm.change(f"wh-warm-{i}", models[i % len(models)])

    def write(i: int, due: float) -> tuple[str, float, float]:
        if not hasattr(local, "writer"):
            local.writer = Writer(port, token)
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        name = f"wh-{i}"
        sent, answered = local.writer.change(name, models[i % len(models)])
        return name, sent, answered

    count = int(rate * seconds)
    start = time.perf_counter() + 0.5
    with ThreadPoolExecutor(WRITERS) as pool:
        done = list(pool.map(lambda i: write(i, start + i / rate), range(count)))
    elapsed = max(sent for _, sent, _ in done) - start
    times = {name: (sent, answered) for name, sent, answered in done}
    deadline = time.perf_counter() + 30
    while len(receiver.arrived) < count and time.perf_counter() < deadline:
        time.sleep(0.05)
    from_answer = [receiver.arrived[n] - times[n][1] for n in times if n in receiver.arrived]
    from_sent = [receiver.arrived[n] - times[n][0] for n in times if n in receiver.arrived]
    write_ms = [answered - sent for sent, answered in times.values()]
    receiver.server.shutdown()
    commits.close()
    first_measured = min(commits.at, default=0) + WARMUP_CHANGES
    from_commit = [
        arrived - commits.at[revision]
        for revision, arrived in receiver.arrived_wall.items()
        if revision in commits.at and revision >= first_measured
    ]
    return {
        "changes": count,
        "achieved_rate": round(count / elapsed, 1) if elapsed > 0 else None,
        "received": len(receiver.arrived),
        "bad_signatures": receiver.bad,
        "write_ms": quantiles(write_ms),
        "from_commit_ms": quantiles(from_commit),
        "from_commit_count": len(from_commit),
        "from_sent_ms": quantiles(from_sent),
        "from_answer_ms": quantiles(from_answer),
    }


async def sse(port: int, token: str, subscribers: int, changes: int) -> dict[str, Any]:
    url = f"http://{harness.LOOPBACK}:{port}/v1/catalog/events"
    arrivals: list[dict[str, float]] = [{} for _ in range(subscribers)]
    connected = 0
    limits = httpx.Limits(max_connections=subscribers + 10)

    async def subscriber(client: httpx.AsyncClient, index: int) -> None:
        nonlocal connected
        async with client.stream("GET", url) as response:
            connected += 1
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    name = json.loads(line[6:])["model"]["display_name"]
                    arrivals[index].setdefault(name, time.perf_counter())

    async with httpx.AsyncClient(timeout=None, limits=limits) as client:
        tasks = [asyncio.create_task(subscriber(client, i)) for i in range(subscribers)]
        while connected < subscribers:
            await asyncio.sleep(0.05)
        writer = Writer(port, token)
        for i in range(WARMUP_CHANGES):  # not measured
            await asyncio.to_thread(writer.change, f"sse-warm-{i}")
            await asyncio.sleep(0.3)
        answered: dict[str, float] = {}
        sent: dict[str, float] = {}
        for i in range(changes):
            name = f"sse-{i}"
            sent[name], answered[name] = await asyncio.to_thread(writer.change, name)
            await asyncio.sleep(0.3)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(len(a) < changes for a in arrivals):
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [a[n] - sent[n] for a in arrivals for n in sent if n in a]
    per_change = [
        ms([a[n] - sent[n] for a in arrivals if n in a], 50)
        for n in sorted(sent, key=lambda name: sent[name])
    ]
    spread = [
        max(a[n] for a in arrivals if n in a) - min(a[n] for a in arrivals if n in a)
        for n in sent
        if any(n in a for a in arrivals)
    ]
    return {
        "subscribers": subscribers,
        "changes": changes,
        "deliveries": len(latencies),
        "expected": subscribers * changes,
        "from_sent_ms": quantiles(latencies),
        "first_to_last_subscriber_ms": quantiles(spread),
        "median_ms_per_change": per_change,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="webhook changes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--sse-changes", type=int, default=20)
    parser.add_argument("--output", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.stop_on_sigterm()
    admin, env = harness.start(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="modelreg-bench-events-"))
    with harness.fresh_database(admin, "modelreg_bench_events") as url:
        seed_catalog(url)
        token = harness.create_admin_token(url)
        server = start_instance(url, workdir)
        try:
            log(f"webhooks: {args.rate}/s for {args.seconds} s")
            hooks = webhooks(server.port, token, args.rate, args.seconds, url)
            log(f"webhooks: {hooks}")
            log(f"SSE: {args.subscribers} subscribers, {args.sse_changes} changes")
            stream = asyncio.run(sse(server.port, token, args.subscribers, args.sse_changes))
            log(f"SSE: {stream}")
        finally:
            server.stop()
    env["load_after"] = harness.load_average()
    result = {"environment": env, "webhooks": hooks, "sse": stream}
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
