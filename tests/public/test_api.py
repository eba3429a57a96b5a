"""The public read API over a seeded database: `/healthz`, `/v1/models`, `/v1/models/{id}`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from importlib.resources import files
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.app import create_app
from modelreg.catalog.seed import SeedModel
from modelreg.db import jsonb
from tests.fixtures.http import problem

# Where each price of the shipped file is served in the public model JSON.
SERVED_AT = {
    "inputCostUsdPerMillionTokens": ("pricing", "input"),
    "outputCostUsdPerMillionTokens": ("pricing", "output"),
    "creditsPer1kTokens": ("credits", "per_1k_tokens"),
}
PUBLIC_FIELDS = {
    "id",
    "object",
    "created",
    "owned_by",
    "name",
    "display_name",
    "description",
    "version",
    "state",
    "available",
    "capabilities",
    "context_length",
    "max_output_tokens",
    "pricing",
    "credits",
    "tier_access",
    "legacy",
    "provider_metadata",
    "compliance_tags",
    "next_price_change",
}
ARCHIVED = "gpt-4o"
ARCHIVED_REPLACEMENT = "gpt-4.1"
UNAVAILABLE = "claude-3-5-haiku"
WITH_INTERNAL_NOTES = "claude-opus-4-1"


@pytest.fixture
def client(seeded_url: URL, use_database: Callable[[URL], None]) -> Iterator[TestClient]:
    use_database(seeded_url)
    with TestClient(create_app()) as test_client:
        yield test_client


def _archive(engine: Engine, model_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE models SET is_archived = true WHERE id = :id"), {"id": model_id})


def _restarted() -> TestClient:
    """A new app over the same database: it serves what the database holds now, whatever the
    running one has cached."""
    return TestClient(create_app())


def _listed(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/models", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = jsonb.loads(response.text)["data"]
    return data


def _shipped_prices() -> dict[str, dict[str, Decimal]]:
    """Every shipped price as written in models.json, read exactly."""
    document = jsonb.loads(
        (files("modelreg.catalog") / "data" / "models.json").read_text(encoding="utf-8")
    )
    return {
        entry["id"]: {key: Decimal(str(entry["meta"][key])) for key in SERVED_AT}
        for entry in document["models"]
    }


# Not found.


def test_unknown_model_id_is_a_not_found_problem(client: TestClient) -> None:
    response = client.get("/v1/models/no-such-model")

    problem(response, 404, "not_found")


def test_archived_model_by_id_is_gone_and_names_its_replacement(
    client: TestClient, seeded_url: URL, engine_for: Callable[[URL], Engine]
) -> None:
    assert client.get(f"/v1/models/{ARCHIVED}").status_code == 200
    _archive(engine_for(seeded_url), ARCHIVED)

    with _restarted() as restarted:
        response = restarted.get(f"/v1/models/{ARCHIVED}")

    body = problem(response, 410, "model_archived")
    assert (body["code"], body["replacement_model_id"]) == ("model_archived", ARCHIVED_REPLACEMENT)


def test_archived_model_is_left_out_of_the_list(
    client: TestClient,
    seeded_url: URL,
    engine_for: Callable[[URL], Engine],
    shipped: list[SeedModel],
) -> None:
    _archive(engine_for(seeded_url), ARCHIVED)

    with _restarted() as restarted:
        ids = [model["id"] for model in _listed(restarted, include_unavailable="true")]

    assert ARCHIVED not in ids
    assert sorted(ids) == sorted(m.id for m in shipped if m.id != ARCHIVED)


def test_unavailable_model_is_left_out_of_the_list(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    assert not next(m for m in shipped if m.id == UNAVAILABLE).is_available

    ids = [model["id"] for model in _listed(client)]

    assert UNAVAILABLE not in ids
    assert sorted(ids) == sorted(m.id for m in shipped if m.is_available)


def test_unavailable_model_is_listed_when_asked_for(client: TestClient) -> None:
    listed = {m["id"]: m for m in _listed(client, include_unavailable="true")}

    assert UNAVAILABLE in listed
    assert listed[UNAVAILABLE]["available"] is False


def test_internal_notes_never_appear_in_public_output(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    note = next(m.meta.internal_notes for m in shipped if m.id == WITH_INTERNAL_NOTES)
    assert note, f"{WITH_INTERNAL_NOTES} is expected to ship with internal notes"

    for path in ("/v1/models", f"/v1/models/{WITH_INTERNAL_NOTES}"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "internalNotes" not in response.text, path
        assert "internal_notes" not in response.text, path
        assert note not in response.text, path


# Served.


def test_healthz_is_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_model_list_is_an_openai_style_list_of_every_available_seeded_model(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    response = client.get("/v1/models")

    assert response.status_code == 200
    body = jsonb.loads(response.text)
    assert body["object"] == "list"
    listed = {m["id"]: (m["object"], m["owned_by"]) for m in body["data"]}
    assert listed == {m.id: ("model", m.provider) for m in shipped if m.is_available}


def test_every_listed_model_has_exactly_the_public_fields(client: TestClient) -> None:
    listed = _listed(client, include_unavailable="true")

    assert listed
    assert [m["id"] for m in listed if set(m) != PUBLIC_FIELDS] == []
    assert {frozenset(m["pricing"]) for m in listed} == {frozenset({"unit", "input", "output"})}
    assert {frozenset(m["credits"]) for m in listed} == {
        frozenset({"per_1k_tokens", "input_per_1k_tokens", "output_per_1k_tokens"})
    }


def test_model_list_prices_are_exact(client: TestClient) -> None:
    expected = _shipped_prices()

    served = {
        model["id"]: {key: model[group][field] for key, (group, field) in SERVED_AT.items()}
        for model in _listed(client, include_unavailable="true")
    }

    inexact = {
        model_id: (prices, expected[model_id])
        for model_id, prices in served.items()
        if any(
            not isinstance(prices[key], int | Decimal) or str(prices[key]) != str(value)
            for key, value in expected[model_id].items()
        )
    }
    assert served.keys() == expected.keys()
    assert inexact == {}


def test_known_model_is_served_by_id(client: TestClient, shipped: list[SeedModel]) -> None:
    model = next(m for m in shipped if m.id == "claude-sonnet-4-5")

    response = client.get(f"/v1/models/{model.id}")

    assert response.status_code == 200
    body = jsonb.loads(response.text)
    assert (body["id"], body["object"], body["owned_by"]) == (model.id, "model", model.provider)
    assert set(body) == PUBLIC_FIELDS
    assert (body["name"], body["display_name"], body["state"], body["available"]) == (
        model.name,
        model.meta.display_name,
        "active",
        True,
    )
    assert (body["context_length"], body["max_output_tokens"]) == (
        model.meta.context_length,
        model.meta.max_output_tokens,
    )
    assert body["capabilities"] == model.meta.capabilities
    assert body["pricing"] == {
        "unit": "USD per 1M tokens",
        "input": model.meta.input_cost_usd_per_million_tokens,
        "output": model.meta.output_cost_usd_per_million_tokens,
    }
    assert body["tier_access"] == {
        "required_tier": model.meta.required_tier,
        "mode": model.meta.tier_restriction_mode.value,
        "allowed_tiers": model.meta.allowed_tiers,
    }
    assert body["legacy"] is None
