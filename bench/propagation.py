"""Benchmark how fast a change made through one modelreg instance is served by the others
(three instances on one database, a PATCH through A, B and C polled until they serve it).

    .venv/bin/python bench/propagation.py [--changes N] [--models N] [--output FILE]

See bench/README.md for the options and what the figures mean.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

import catalog_data
import harness
from harness import KeepAlive, Report, Server, Summary, Target, fmt, fmt_ratio, log, ratio

INSTANCES: tuple[str, ...] = ("A", "B", "C")
WRITER = "A"
TARGET_P99_MS = 100.0  # on the instances that did not make the change


@dataclass(frozen=True)
class Change:
    index: int
    model_id: str
    value: str
    acked: float  # perf_counter when A's answer to the PATCH arrived


@dataclass(frozen=True)
class Sighting:
    """When one instance first served one change, in ms after the PATCH was answered.

    `upper_ms`: when the poll that saw it came back. `lower_ms`: when the last poll that did not
    see it was sent (0 if the first poll saw it); the change became visible in between.
    """

    instance: str
    index: int
    seen: bool
    upper_ms: float
    lower_ms: float
    polls: int
    errors: int


class Poller(threading.Thread):
    """Polls one instance for each change it is given, until it sees it or gives up."""

    def __init__(
        self,
        instance: str,
        port: int,
        interval_s: float,
        timeout_s: float,
        results: queue.Queue[Sighting],
    ) -> None:
        super().__init__(name=f"poll-{instance}", daemon=True)
        self.instance = instance
        self.port = port
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.results = results
        self.jobs: queue.Queue[Change | None] = queue.Queue()
        self.round_trips_ms: list[float] = []

    def run(self) -> None:
        client = KeepAlive(self.port, timeout=10)
        try:
            while (change := self.jobs.get()) is not None:
                self.results.put(self._watch(client, change))
        finally:
            client.close()

    def _watch(self, client: KeepAlive, change: Change) -> Sighting:
        path = f"/v1/models/{change.model_id}"
        polls = errors = 0
        last_miss_sent: float | None = None
        deadline = change.acked + self.timeout_s
        while True:
            sent = time.perf_counter()
            try:
                reply = client.request("GET", path)
            except OSError:
                reply = None
            got = time.perf_counter()
            polls += 1
            self.round_trips_ms.append((got - sent) * 1000)
            if reply is not None and reply.status == 200:
                if json.loads(reply.body).get("description") == change.value:
                    lower = 0.0 if last_miss_sent is None else (last_miss_sent - change.acked)
                    return Sighting(
                        self.instance,
                        change.index,
                        True,
                        (got - change.acked) * 1000,
                        max(0.0, lower * 1000),
                        polls,
                        errors,
                    )
            else:
                errors += 1
            last_miss_sent = sent
            if got > deadline:
                elapsed = (got - change.acked) * 1000
                return Sighting(self.instance, change.index, False, elapsed, elapsed, polls, errors)
            time.sleep(self.interval_s)


@dataclass
class Results:
    models: int
    changes: int
    ready_s: dict[str, float | None]
    sightings: list[Sighting]
    patch_ms: list[float]
    patch_errors: list[str]
    round_trips_ms: dict[str, list[float]]
    rss_mb: dict[str, float | None]
    wall_s: float = 0.0


def run(args: argparse.Namespace, admin: URL, workdir: Path) -> Results:
    name = f"modelreg_bench_propagation_{os.getpid()}"
    with harness.fresh_database(admin, name) as url:
        models = catalog_data.load_catalog(url, args.models)
        token = harness.create_admin_token(url)
        targets = [m.id for m in models if m.served and not m.is_legacy][:20]
        servers = {i: harness.start_modelreg(url, workdir, f"instance-{i}") for i in INSTANCES}
        try:
            ready = {
                i: s.wait_ready("/v1/models", timeout=args.ready_timeout)
                for i, s in servers.items()
            }
            log("instances ready: " + ", ".join(f"{i} {t:.2f} s" for i, t in ready.items()))
            return _measure(args, servers, token, targets, ready)
        finally:
            for s in servers.values():
                s.stop()


def _measure(
    args: argparse.Namespace,
    servers: dict[str, Server],
    token: str,
    targets: list[str],
    ready: dict[str, float],
) -> Results:
    results: queue.Queue[Sighting] = queue.Queue()
    pollers = {
        i: Poller(i, s.port, args.poll_ms / 1000, args.change_timeout, results)
        for i, s in servers.items()
    }
    for p in pollers.values():
        p.start()
    writer = KeepAlive(servers[WRITER].port, timeout=30)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/merge-patch+json",
    }
    rng = random.Random(args.seed)
    tag = f"{os.getpid()}-{int(time.time())}"
    sightings: list[Sighting] = []
    patch_ms: list[float] = []
    patch_errors: list[str] = []
    started = time.perf_counter()
    try:
        for index in range(args.changes):
            model_id = targets[index % len(targets)]
            value = f"propagation {tag} #{index}"
            body = json.dumps({"meta": {"description": value}}).encode()
            sent = time.perf_counter()
            reply = writer.request(
                "PATCH", f"/admin/v1/models/{model_id}", headers=headers, body=body
            )
            acked = time.perf_counter()
            patch_ms.append((acked - sent) * 1000)
            if reply.status != 200:
                patch_errors.append(f"#{index}: HTTP {reply.status} {reply.body[:200]!r}")
                continue
            change = Change(index, model_id, value, acked)
            for p in pollers.values():
                p.jobs.put(change)
            for _ in pollers:
                sightings.append(results.get(timeout=args.change_timeout + 30))
            if (index + 1) % 50 == 0:
                log(f"{index + 1}/{args.changes} changes")
            # A pause of varying length, so that changes do not keep the same phase relative
            # to the instances' periodic revision check.
            time.sleep(rng.uniform(0.01, 0.05))
    finally:
        for p in pollers.values():
            p.jobs.put(None)
        for p in pollers.values():
            p.join(timeout=args.change_timeout + 30)
        writer.close()
    wall = time.perf_counter() - started
    rss = {i: s.rss() for i, s in servers.items()}
    return Results(
        models=args.models,
        changes=args.changes,
        ready_s=dict(ready),
        sightings=sightings,
        patch_ms=patch_ms,
        patch_errors=patch_errors,
        round_trips_ms={i: p.round_trips_ms for i, p in pollers.items()},
        rss_mb={i: None if v is None else v / harness.MB for i, v in rss.items()},
        wall_s=wall,
    )


# --------------------------------------------------------------------------------------------
# Figures


def _seen(results: Results, instances: Sequence[str]) -> list[Sighting]:
    return [s for s in results.sightings if s.instance in instances]


def _summary(results: Results, instances: Sequence[str], lower: bool = False) -> Summary:
    seen = [s for s in _seen(results, instances) if s.seen]
    return Summary.of([s.lower_ms if lower else s.upper_ms for s in seen])


def _missed(results: Results, instances: Sequence[str]) -> int:
    return sum(1 for s in _seen(results, instances) if not s.seen)


def _poll_errors(results: Results, instances: Sequence[str]) -> int:
    return sum(s.errors for s in _seen(results, instances))


def _polls(results: Results, instances: Sequence[str]) -> float | None:
    counts = [s.polls for s in _seen(results, instances)]
    return sum(counts) / len(counts) if counts else None


OTHERS = tuple(i for i in INSTANCES if i != WRITER)


def target(results: Results, args: argparse.Namespace) -> Target:
    overall = _summary(results, OTHERS)
    missed = _missed(results, OTHERS)
    measured = f"{fmt(overall.p99_ms, 2)} ms"
    if missed:
        measured += f"; {missed} sighting(s) missing after {args.change_timeout:g} s"
    if results.patch_errors:
        measured += f"; {len(results.patch_errors)} PATCH error(s)"
    return Target(
        f"propagation p99 < {TARGET_P99_MS:g} ms on {', '.join(OTHERS)}",
        measured,
        None
        if overall.p99_ms is None
        else overall.p99_ms < TARGET_P99_MS and not missed and not results.patch_errors,
    )


def render(results: Results, args: argparse.Namespace, env: dict[str, Any]) -> Report:
    report = Report("Propagation: a change through instance A, served by B and C")
    report.text(
        f"{len(INSTANCES)} instances (1 uvicorn worker each) on one database with"
        f" {args.models:,} models; {results.changes} changes (PATCH meta.description through"
        f" A's admin API), each instance polled with GET /v1/models/{{id}} every"
        f" ~{args.poll_ms:g} ms until it serves the change. Times are from A's answer to the"
        f" PATCH to the poll that saw the change. {env['cpus']} CPUs, Python {env['python']};"
        f" load average {env['load_before']} before, {env['load_after']} after."
    )
    reference = _summary(results, (WRITER,))
    round_trip = Summary.of([v for i in INSTANCES for v in results.round_trips_ms.get(i, [])])
    groups: list[tuple[str, tuple[str, ...]]] = [
        (f"{WRITER} (made the change; reference)", (WRITER,)),
        *((i, (i,)) for i in OTHERS),
        (" + ".join(OTHERS) + " (overall)", OTHERS),
    ]
    rows: list[list[str]] = []
    for label, members in groups:
        s = _summary(results, members)
        rows.append(
            [
                label,
                f"{s.count} / {len(_seen(results, members))}",
                *s.cells(2),
                fmt(_summary(results, members, lower=True).p50_ms, 2),
                fmt_ratio(ratio(s.p50_ms, reference.p50_ms)),
                fmt_ratio(ratio(s.p50_ms, round_trip.p50_ms)),
                fmt(_polls(results, members), 1),
                str(_poll_errors(results, members)),
            ]
        )
    report.table(
        "instance | seen | p50 ms | p99 ms | max ms | lower bound p50 ms | p50 ÷ A"
        " | p50 ÷ poll round trip | polls / change | poll errors",
        rows,
    )
    patch = Summary.of(results.patch_ms)
    report.section("References")
    report.table(
        ["what", "p50 ms", "p99 ms", "max ms", "count"],
        [
            [
                "poll round trip (GET /v1/models/{id}, all instances)",
                *round_trip.cells(3),
                str(round_trip.count),
            ],
            [
                "PATCH /admin/v1/models/{id} on A (request to answer)",
                *patch.cells(2),
                str(patch.count),
            ],
        ],
    )
    report.add_targets([target(results, args)], "Target")
    report.notes(
        [
            "lower bound: when the last poll that did not see the change was sent; the change"
            " became visible between that and the p50/p99/max figures (when the poll that saw it"
            " came back).",
            "ready in: " + ", ".join(f"{i} {fmt(t, 2)} s" for i, t in results.ready_s.items()),
            "RSS at the end: " + ", ".join(f"{i} {fmt(v)} MB" for i, v in results.rss_mb.items()),
            *(f"PATCH error {e}" for e in results.patch_errors[:10]),
        ]
    )
    return report


def as_json(results: Results, args: argparse.Namespace) -> dict[str, Any]:
    per_instance = {
        i: {
            "visible_after_patch": _summary(results, (i,)).as_dict(),
            "lower_bound": _summary(results, (i,), lower=True).as_dict(),
            "missed": _missed(results, (i,)),
            "poll_errors": _poll_errors(results, (i,)),
            "polls_per_change": _polls(results, (i,)),
            "poll_round_trip": Summary.of(results.round_trips_ms.get(i, [])).as_dict(),
            "ready_s": harness.rounded(results.ready_s.get(i)),
            "rss_mb": harness.rounded(results.rss_mb.get(i), 1),
        }
        for i in INSTANCES
    }
    overall = _summary(results, OTHERS)
    return {
        "benchmark": "propagation",
        "settings": {
            "models": args.models,
            "changes": args.changes,
            "poll_ms": args.poll_ms,
            "change_timeout_s": args.change_timeout,
        },
        "instances": per_instance,
        "overall_others": overall.as_dict(),
        "ratios": {
            "others_p50/writer_p50": harness.rounded(
                ratio(overall.p50_ms, _summary(results, (WRITER,)).p50_ms)
            ),
        },
        "patch": Summary.of(results.patch_ms).as_dict(),
        "patch_errors": results.patch_errors,
        "sightings": [
            {
                "instance": s.instance,
                "change": s.index,
                "seen": s.seen,
                "upper_ms": round(s.upper_ms, 3),
                "lower_ms": round(s.lower_ms, 3),
                "polls": s.polls,
            }
            for s in results.sightings
        ],
        "wall_s": round(results.wall_s, 1),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = harness.arguments(__doc__)
    add = parser.add_argument
    add("--models", type=int, default=2000, help="catalog size")
    add("--changes", type=int, default=200, help="changes to make through A")
    add("--poll-ms", type=float, default=1.0, help="pause between two polls")
    add(
        "--change-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for an instance to serve a change before counting it missed",
    )
    add("--ready-timeout", type=float, default=120.0, help="seconds an instance may take to start")
    add("--seed", type=int, default=20261128, help="seed of the pauses")
    args = parser.parse_args(argv)
    if args.models < 20:
        parser.error("--models must be at least 20")
    if args.changes < 1:
        parser.error("--changes must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    admin, env = harness.start(args.database_url)
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-propagation-") as tmp:
        results = run(args, admin, Path(tmp))
    env["load_after"] = harness.load_average()
    return harness.finish(args, render(results, args, env), as_json(results, args), env)


if __name__ == "__main__":
    sys.exit(main())
