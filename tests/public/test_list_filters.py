"""`GET /v1/models` over the seeded catalog: filters, tiers, sorting, cursor pagination and the
OpenAI-compatible list shape."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.catalog.seed import SeedModel
from tests.public.helpers import archive, assert_validation_problem, body_of

LEGACY = "gpt-4o"
UNAVAILABLE_LEGACY = "claude-3-5-haiku"
WHITELISTED = "claude-opus-4-1"  # enterprise_pro, enterprise_max
EXACT_PERPETUAL = "llama-3.3-70b"
TO_ARCHIVE = "codestral"
CREDIT_KEYS = ("per_1k_tokens", "input_per_1k_tokens", "output_per_1k_tokens")
SORTS = ("id", "credits", "context_length", "created")


def _list(client: TestClient, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get("/v1/models", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = body_of(response)
    return body


def _models(client: TestClient, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = _list(client, params)["data"]
    return data


def _ids(client: TestClient, params: dict[str, Any] | None = None) -> set[str]:
    return {model["id"] for model in _models(client, params)}


def _listed_by_default(shipped: list[SeedModel]) -> set[str]:
    """What a plain list shows: available models that are not archived (none is, when seeded)."""
    return {m.id for m in shipped if m.is_available}


def _cursor(value: str, model_id: str) -> str:
    raw = json.dumps(["credits", value, model_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sort_key(model: dict[str, Any], sort: str) -> tuple[Any, str]:
    match sort:
        case "credits":
            return (Decimal(model["credits"]["per_1k_tokens"]), model["id"])
        case "context_length":
            return (model["context_length"], model["id"])
        case "created":
            return (model["created"], model["id"])
    return (model["id"], model["id"])


def _spread_created(engine: Engine) -> None:
    """Give the models a handful of distinct creation days (with ties), not in id order."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE models SET created_at = timestamptz '2025-01-01 00:00:00+00'"
                " + (ascii(md5(id)) % 5) * interval '1 day'"
            )
        )


# Invalid parameters.


def test_cursor_that_is_not_base64_json_is_a_validation_problem_naming_after(
    client: TestClient,
) -> None:
    response = client.get("/v1/models", params={"limit": 5, "after": "not a cursor!"})

    assert_validation_problem(response, "after")


def test_cursor_from_another_sort_is_a_validation_problem_naming_after(
    client: TestClient,
) -> None:
    first = _list(client, {"limit": 5, "sort": "id"})
    assert first["next_after"] is not None

    response = client.get(
        "/v1/models", params={"limit": 5, "sort": "credits", "after": first["next_after"]}
    )

    assert_validation_problem(response, "after")


@pytest.mark.parametrize("value", ["NaN", "sNaN"])
def test_cursor_with_a_non_comparable_credits_value_is_a_validation_problem(
    client: TestClient, value: str
) -> None:
    response = client.get(
        "/v1/models", params={"sort": "credits", "after": _cursor(value, "gpt-4.1")}
    )

    assert_validation_problem(response, "after")


def test_unknown_tier_is_a_validation_problem_naming_tier(client: TestClient) -> None:
    response = client.get("/v1/models", params={"tier": "platinum"})

    assert_validation_problem(response, "tier")


def test_unknown_state_is_a_validation_problem_naming_state(client: TestClient) -> None:
    response = client.get("/v1/models", params={"state": "retired"})

    assert_validation_problem(response, "state")


@pytest.mark.parametrize("limit", [0, 501])
def test_limit_outside_1_to_500_is_a_validation_problem_naming_limit(
    client: TestClient, limit: int
) -> None:
    response = client.get("/v1/models", params={"limit": limit})

    assert_validation_problem(response, "limit")


def test_negative_max_credits_is_a_validation_problem_naming_it(client: TestClient) -> None:
    response = client.get("/v1/models", params={"max_credits_per_1k": "-1"})

    assert_validation_problem(response, "max_credits_per_1k")


# Filters.


def test_provider_lists_only_that_providers_models(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    expected = {m.id for m in shipped if m.provider == "anthropic" and m.is_available}
    assert "claude-sonnet-4-5" in expected

    assert _ids(client, {"provider": "anthropic"}) == expected


def test_capability_match_all_lists_models_with_every_capability(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    wanted = {"audio", "reasoning"}
    expected = {m.id for m in shipped if m.is_available and wanted <= set(m.meta.capabilities)}
    assert expected, "some shipped model is expected to have audio and reasoning"

    listed = _ids(client, {"capability": sorted(wanted), "capability_match": "all"})

    assert listed == expected


def test_capability_match_all_is_the_default(client: TestClient) -> None:
    params = {"capability": ["audio", "reasoning"]}

    assert _ids(client, params) == _ids(client, {**params, "capability_match": "all"})


def test_capability_match_any_lists_models_with_at_least_one(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    wanted = {"audio", "reasoning"}
    expected = {m.id for m in shipped if m.is_available and wanted & set(m.meta.capabilities)}
    every = {m.id for m in shipped if m.is_available and wanted <= set(m.meta.capabilities)}
    assert expected > every, "any must list more models than all for this test to mean anything"

    listed = _ids(client, {"capability": sorted(wanted), "capability_match": "any"})

    assert listed == expected


def test_tier_lists_only_models_that_tier_may_use(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    def free_may_use(model: SeedModel) -> bool:
        if model.meta.tier_restriction_mode == "whitelist":
            return "free" in model.meta.allowed_tiers
        return model.meta.required_tier == "free"  # free is the lowest tier

    expected = {m.id for m in shipped if m.is_available and free_may_use(m)}
    assert expected
    assert expected != _listed_by_default(shipped)

    assert _ids(client, {"tier": "free"}) == expected


def test_tier_list_carries_tier_credits_and_access_on_every_model(client: TestClient) -> None:
    models = _models(client, {"tier": "free"})

    assert models
    for model in models:
        assert model["credits"]["tier"] == "free", model["id"]
        assert model["access"]["allowed"] is True, model["id"]
        assert model["access"]["upgrade_to"] is None, model["id"]
        assert isinstance(model["access"]["reason"], str), model["id"]


def test_list_without_tier_has_no_tier_credits_or_access(client: TestClient) -> None:
    models = _models(client)

    assert models
    assert all("access" not in m and "tier" not in m["credits"] for m in models)


def test_tier_list_honours_exact_and_whitelist_rules(client: TestClient) -> None:
    perpetual = _ids(client, {"tier": "perpetual"})
    enterprise_max = _ids(client, {"tier": "enterprise_max"})

    assert EXACT_PERPETUAL in perpetual
    assert WHITELISTED not in perpetual
    assert EXACT_PERPETUAL not in enterprise_max
    assert WHITELISTED in enterprise_max


def test_tier_credits_without_a_margin_are_the_base_credits(client: TestClient) -> None:
    base = {m["id"]: m["credits"] for m in _models(client)}

    for model in _models(client, {"tier": "free"}):
        tier_credits = model["credits"]
        assert {k: tier_credits[k] for k in CREDIT_KEYS} == {
            k: base[model["id"]][k] for k in CREDIT_KEYS
        }, model["id"]


def test_tier_margin_multiplies_the_tier_credits_exactly(
    free_margin: Decimal, serve: Callable[[], TestClient]
) -> None:
    client = serve()
    base = {m["id"]: m["credits"] for m in _models(client)}
    factor = 1 + free_margin

    models = _models(client, {"tier": "free"})

    assert models
    for model in models:
        for key in CREDIT_KEYS:
            served = model["credits"][key]
            assert isinstance(served, int | Decimal), (model["id"], key, served)
            assert Decimal(served) == Decimal(base[model["id"]][key]) * factor, (model["id"], key)


def test_tier_margin_leaves_the_untiered_list_at_base_credits(
    free_margin: Decimal, serve: Callable[[], TestClient], shipped: list[SeedModel]
) -> None:
    client = serve()
    shipped_credits = {m.id: m.meta.credits_per_1k_tokens for m in shipped}

    for model in _models(client):
        assert Decimal(model["credits"]["per_1k_tokens"]) == shipped_credits[model["id"]]


def test_max_credits_lists_models_at_or_below_it(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    ceiling = Decimal(1)
    expected = {m.id for m in shipped if m.is_available and m.meta.credits_per_1k_tokens <= ceiling}
    assert "gpt-4.1-mini" in expected, "a model at exactly the ceiling must be included"

    assert _ids(client, {"max_credits_per_1k": str(ceiling)}) == expected


def test_max_credits_with_a_tier_compares_the_tier_credits(
    free_margin: Decimal, serve: Callable[[], TestClient]
) -> None:
    client = serve()
    # gpt-4.1-mini costs exactly 1 credit per 1k at base, 1.25 for free with the margin.
    assert "gpt-4.1-mini" in _ids(client, {"tier": "free"})

    listed = _models(client, {"tier": "free", "max_credits_per_1k": "1"})

    assert listed
    assert "gpt-4.1-mini" not in {m["id"] for m in listed}
    assert all(Decimal(m["credits"]["per_1k_tokens"]) <= 1 for m in listed)


def test_state_legacy_lists_only_legacy_models(client: TestClient) -> None:
    models = _models(client, {"state": "legacy"})

    assert {m["id"] for m in models} == {LEGACY}
    assert all(m["state"] == "legacy" for m in models)


def test_include_legacy_false_leaves_legacy_models_out(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    expected = {m.id for m in shipped if m.is_available and not m.is_legacy}
    assert LEGACY in _ids(client)

    assert _ids(client, {"include_legacy": "false"}) == expected


def test_archived_models_are_left_out_by_default(
    seeded_url: URL, serve: Callable[[], TestClient]
) -> None:
    archive(seeded_url, TO_ARCHIVE)
    client = serve()

    assert TO_ARCHIVE not in _ids(client)
    assert TO_ARCHIVE not in _ids(client, {"include_unavailable": "true"})


def test_include_archived_lists_archived_models(
    seeded_url: URL, serve: Callable[[], TestClient]
) -> None:
    archive(seeded_url, TO_ARCHIVE)
    client = serve()

    models = {m["id"]: m for m in _models(client, {"include_archived": "true"})}

    assert TO_ARCHIVE in models
    assert models[TO_ARCHIVE]["state"] == "archived"


def test_state_archived_lists_archived_models(
    seeded_url: URL, serve: Callable[[], TestClient]
) -> None:
    archive(seeded_url, TO_ARCHIVE)
    client = serve()

    assert _ids(client, {"state": "archived"}) == {TO_ARCHIVE}


def test_include_unavailable_adds_unavailable_models(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    assert UNAVAILABLE_LEGACY not in _ids(client)

    models = {m["id"]: m for m in _models(client, {"include_unavailable": "true"})}

    assert set(models) == {m.id for m in shipped}
    assert models[UNAVAILABLE_LEGACY]["available"] is False


def test_q_matches_the_id_case_insensitively(client: TestClient) -> None:
    # The display name is "Claude Opus 4.1": only the id has "opus-4-1".
    assert _ids(client, {"q": "OPUS-4-1"}) == {"claude-opus-4-1"}


def test_q_matches_the_display_name_case_insensitively(client: TestClient) -> None:
    # The id is "mistral-large": only the display name "Mistral Large 2.1" has "large 2.1".
    assert _ids(client, {"q": "lArGe 2.1"}) == {"mistral-large"}


def test_filters_combine(client: TestClient) -> None:
    listed = _ids(client, {"provider": "google", "tier": "free", "q": "lite"})

    assert listed == {"gemini-2.5-flash-lite"}


# Sorting.


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", SORTS)
def test_sort_orders_by_the_key_then_id(
    seeded_url: URL,
    serve: Callable[[], TestClient],
    engine_for: Callable[[URL], Engine],
    shipped: list[SeedModel],
    sort: str,
    order: str,
) -> None:
    _spread_created(engine_for(seeded_url))
    client = serve()

    models = _models(client, {"sort": sort, "order": order})

    keys = [_sort_key(m, sort) for m in models]
    assert {m["id"] for m in models} == _listed_by_default(shipped)
    assert keys == sorted(keys, reverse=order == "desc")
    assert len({k[0] for k in keys}) > 1, "the sort key must vary for this test to mean anything"


def test_default_order_is_by_id_ascending(client: TestClient) -> None:
    ids = [m["id"] for m in _models(client)]

    assert ids == sorted(ids)


# Pagination.


def test_without_limit_every_model_is_on_one_page(
    client: TestClient, shipped: list[SeedModel]
) -> None:
    body = _list(client, {"sort": "credits"})

    assert {m["id"] for m in body["data"]} == _listed_by_default(shipped)
    assert body["has_more"] is False
    assert body["next_after"] is None


@pytest.mark.parametrize(
    ("sort", "order"),
    [("id", "asc"), ("id", "desc"), ("credits", "desc"), ("context_length", "asc")],
)
def test_cursor_pages_walk_every_model_once(
    client: TestClient, shipped: list[SeedModel], sort: str, order: str
) -> None:
    whole = [m["id"] for m in _models(client, {"sort": sort, "order": order})]
    pages: list[list[str]] = []
    after: str | None = None

    while True:
        params: dict[str, Any] = {"sort": sort, "order": order, "limit": 5}
        if after is not None:
            params["after"] = after
        body = _list(client, params)
        pages.append([m["id"] for m in body["data"]])
        assert len(pages) <= len(whole), "the cursor does not advance"
        if not body["has_more"]:
            assert body["next_after"] is None
            break
        assert isinstance(body["next_after"], str)
        after = body["next_after"]

    walked = [model_id for page in pages for model_id in page]
    assert walked == whole
    assert set(walked) == _listed_by_default(shipped)
    assert [len(page) for page in pages[:-1]] == [5] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 5
    assert len(pages) == -(-len(whole) // 5)


def test_last_full_page_says_there_is_no_more(client: TestClient) -> None:
    total = len(_models(client))

    body = _list(client, {"limit": total})

    assert len(body["data"]) == total
    assert body["has_more"] is False
    assert body["next_after"] is None


# Shape.


def test_list_is_openai_compatible(client: TestClient) -> None:
    body = _list(client)

    assert body["object"] == "list"
    assert isinstance(body["data"], list)
    assert body["data"]
    for model in body["data"]:
        assert isinstance(model["id"], str)
        assert model["object"] == "model"
        assert type(model["created"]) is int
        assert isinstance(model["owned_by"], str)
        assert model["owned_by"]


@pytest.mark.parametrize("params", [None, {"tier": "pro", "sort": "credits"}])
def test_list_response_has_an_etag(client: TestClient, params: dict[str, Any] | None) -> None:
    response = client.get("/v1/models", params=params)

    assert response.status_code == 200
    assert re.fullmatch(r'(W/)?"[^"]+"', response.headers["etag"]), response.headers["etag"]
