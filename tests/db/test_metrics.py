"""Database metrics in /metrics: query time by query name, and the catalog indexes' use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import URL

from modelreg.auth.roles import Role
from modelreg.db import metrics
from modelreg.db.indexes import INDEXES
from modelreg.db.metrics import query_name
from tests.fixtures.databases import PgServer
from tests.fixtures.http import bearer, serving
from tests.fixtures.tokens import issue_token


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("SELECT models.id, models.meta \nFROM models \nWHERE models.id = %(pk)s", "select models"),
        ("INSERT INTO audit_events (actor) VALUES (%(a)s) RETURNING id", "insert audit_events"),
        ("UPDATE catalog_state SET revision=(catalog_state.revision + 1)", "update catalog_state"),
        ("DELETE FROM api_tokens WHERE id = %(id)s", "delete api_tokens"),
        ("SELECT pg_notify('modelreg_catalog', %(payload)s)", "select pg_notify"),
        ('SELECT 1 FROM "public"."models" LIMIT 1', "select public.models"),
        ("WITH batch AS (SELECT id FROM models) UPDATE models m SET meta = 1", "update models"),
        ("SET LOCAL lock_timeout = '250ms'", "set"),
        ("select 1", "select"),
    ],
)  # fmt: skip
def test_a_statement_is_named_by_its_verb_and_first_table(statement: str, name: str) -> None:
    assert query_name(statement) == name


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _count(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], query: str) -> float:
    key = ("modelreg_db_query_duration_seconds_count", (("query", query),))
    return samples.get(key, 0.0)


@pytest.fixture(scope="module")
def admin(pg: PgServer) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url: URL = pg.seeded_url()  # at head, with the shipped catalog
    headers = bearer(issue_token(url, Role.VIEWER))
    with serving(url) as client:
        yield client, headers


def test_admin_queries_are_timed_by_name(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = admin
    before = _count(_samples(client), "select models")
    assert client.get("/admin/v1/models", headers=headers).status_code == 200
    assert client.get("/admin/v1/models/gpt-4.1", headers=headers).status_code == 200
    after = _samples(client)
    assert _count(after, "select models") >= before + 2
    bucket = (
        "modelreg_db_query_duration_seconds_bucket",
        (("le", "+Inf"), ("query", "select models")),
    )
    assert after[bucket] == _count(after, "select models")


def test_index_use_is_exposed_for_the_seven_indexes_and_read_at_most_once_per_ttl(
    admin: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = admin
    metrics.INDEX_USAGE_COLLECTOR.read_at = None  # as if never scraped
    first = _samples(client)
    exposed = {
        dict(labels)["index"]
        for (name, labels) in first
        if name == "modelreg_catalog_index_scans_total"
    }
    assert exposed == {index.name for index in INDEXES}
    assert ("modelreg_catalog_table_scans_total", (("kind", "sequential"),)) in first
    reads = _count(first, "metrics index usage")

    second = _samples(client)  # within the TTL: no new read
    assert _count(second, "metrics index usage") == reads

    metrics.INDEX_USAGE_COLLECTOR.read_at = 0.0  # long ago
    third = _samples(client)
    assert _count(third, "metrics index usage") == reads + 1
