"""What the read path's edge costs per request, in one process, without a server or a socket.

`GET /v1/models/{id}` (or `--path`) goes through `modelreg.public.edge.Edge` over a snapshot of
the shipped catalog, N times in a loop on uvloop, with a `send` that does nothing; the bare app
of `minimal_app.py`'s kind answers the same bytes the same way, for reference. What is left is
the edge's own work: request id, header checks, snapshot lookup, latency series, access log.

    python bench/edge_cost.py                 # microseconds per request, edge and bare app
    python bench/edge_cost.py --instructions  # instructions per request, under valgrind

`--instructions` runs this script under valgrind's callgrind (Debian package `valgrind`) for 0
and for N requests of each kind and prints the difference per request: a count that does not
depend on what else the machine is doing, for comparing two versions of the code.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Scope = dict[str, Any]


def build_apps(path: str, log: bool, workdir: Path) -> dict[str, Any]:
    """The edge over a snapshot of the shipped catalog, and the bare app answering `path`."""
    from modelreg.catalog.seed import load_seed_models
    from modelreg.config import DEFAULT_TIERS, get_settings
    from modelreg.logs import AccessLog, configure
    from modelreg.public.edge import Edge
    from modelreg.public.schemas import build_view
    from modelreg.public.snapshot import ChangeLog, build_snapshot
    from modelreg.public.store import SnapshotStore

    rows = []
    for i, seed in enumerate(load_seed_models()):
        rows.append(
            argparse.Namespace(
                id=seed.id,
                name=seed.name,
                provider=seed.provider,
                is_available=seed.is_available,
                is_legacy=seed.is_legacy,
                is_archived=False,
                meta=seed.meta.to_storage(),
                created_at=datetime(2025, 1, 1 + i, tzinfo=UTC),
            )
        )
    snapshot = build_snapshot(
        build_view(1, rows), changes=ChangeLog(), tokens={}, tiers=DEFAULT_TIERS
    )
    store = SnapshotStore(engine=None, settings=get_settings())  # type: ignore[arg-type]
    store.current = snapshot
    configure()  # the access log writes while `modelreg.access` is on, as under `serve`
    access_log = AccessLog(stream=(workdir / "access.log").open("w")) if log else None
    edge = Edge(None, store, access_log=access_log)  # type: ignore[arg-type]

    rendered = snapshot.by_path.get(path) or snapshot.list_all
    head = [*rendered.head, (b"etag", snapshot.etag), (b"x-request-id", b"0" * 32)]

    async def bare(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": rendered.body})

    return {"edge": edge, "bare": bare}


async def requests(app: Any, path: str, count: int) -> float:
    """Seconds per request for `count` requests of `path` through `app`."""

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    started = time.perf_counter()
    for _ in range(count):
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000")],
        }
        await app(scope, receive, send)
    return (time.perf_counter() - started) / max(count, 1)


def timed(args: argparse.Namespace, workdir: Path) -> None:
    import uvloop

    apps = build_apps(args.path, args.log, workdir)

    async def rounds() -> dict[str, float]:
        seen: dict[str, list[float]] = {"bare": [], "edge": []}
        for _ in range(args.rounds):  # interleaved, so that both see the same machine
            for name, app in apps.items():
                seen[name].append(await requests(app, args.path, args.requests))
        return {name: statistics.median(values) for name, values in seen.items()}

    medians = uvloop.run(rounds())
    edge, bare = medians["edge"] * 1e6, medians["bare"] * 1e6
    log = "on" if args.log else "off"
    print(f"{args.path}, access log {log}, median of {args.rounds} rounds:")
    print(
        f"  edge {edge:.2f} us, bare app {bare:.2f} us per request:"
        f" the edge adds {edge - bare:.2f} us"
    )


def run_one(args: argparse.Namespace, workdir: Path) -> None:
    """One kind of app, `args.requests` times: what `--instructions` counts."""
    import uvloop

    app = build_apps(args.path, args.log, workdir)[args.one]
    uvloop.run(requests(app, args.path, args.requests))


def instructions(args: argparse.Namespace) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--instructions needs valgrind (Debian: apt-get install valgrind)")

    def count(one: str, requests_: int) -> int:
        argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        argv += [sys.executable, __file__, "--one", one, "--requests", str(requests_)]
        argv += ["--path", args.path, "--log" if args.log else "--no-log"]
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            sys.exit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
        return int(found.group(1))

    log = "on" if args.log else "off"
    print(f"{args.path}, access log {log}, instructions per request ({args.requests:,} requests):")
    for one in ("edge", "bare"):
        per_request = (count(one, args.requests) - count(one, 0)) / args.requests
        print(f"  {one}: {per_request:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/v1/models/gpt-4o", help="the path requested")
    parser.add_argument(
        "--log", action=argparse.BooleanOptionalAction, default=True, help="the access log"
    )
    parser.add_argument("--requests", type=int, default=None, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each app (timed)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under valgrind"
    )
    parser.add_argument("--one", choices=("edge", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests is None:
        args.requests = 30_000 if args.instructions else 100_000
    with tempfile.TemporaryDirectory(prefix="modelreg-edge-cost-") as workdir:
        if args.one:
            run_one(args, Path(workdir))
        elif args.instructions:
            instructions(args)
        else:
            timed(args, Path(workdir))


if __name__ == "__main__":
    main()
