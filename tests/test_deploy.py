"""The operations files in deploy/: Prometheus alerts that promtool accepts and whose unit tests
pass, a Grafana dashboard of valid queries, and both naming only metrics modelreg exposes."""

from __future__ import annotations

import gc
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from modelreg.auth.roles import Role
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "modelreg.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)",
)
METRIC = re.compile(r"\bmodelreg_[a-z0-9_]+")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


@needs_promtool
def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = _promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts.test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    # Each query as a recording rule, Grafana's variables given values: promtool parses them.
    rules = [
        {
            "record": f"dashboard:query_{n}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*"),
        }
        for n, expr in enumerate(_dashboard_queries())
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = _promtool("check", "rules", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


@pytest.fixture(scope="module")
def exposed(pg: PgServer) -> Iterator[set[str]]:
    """The metric names of a serving instance's /metrics, once it has done a bit of everything."""
    url = pg.seeded_url()  # at head, with the shipped catalog
    headers = bearer(issue_token(url, Role.VIEWER))
    with serving(url) as client:
        yield _sample_names(client, headers)


def _sample_names(client: TestClient, headers: dict[str, str]) -> set[str]:
    assert client.get("/v1/models").status_code == 200
    assert client.get("/v1/models/no-such-model").status_code == 404
    assert client.get("/admin/v1/models", headers=headers).status_code == 200
    gc.collect()
    client.get("/metrics")
    text = client.get("/metrics").text
    families = list(text_string_to_metric_families(text))
    # A family's name (what a description mentions) and its samples' (what a query reads).
    return {f.name for f in families} | {s.name for f in families for s in f.samples}


def test_the_alerts_name_only_metrics_modelreg_exposes(exposed: set[str]) -> None:
    used = set(METRIC.findall((PROMETHEUS / "alerts.yml").read_text()))
    assert used
    assert used - exposed == set()


def test_the_dashboard_names_only_metrics_modelreg_exposes(exposed: set[str]) -> None:
    used = {name for expr in _dashboard_queries() for name in METRIC.findall(expr)}
    assert len(used) >= 10
    assert used - exposed == set()
