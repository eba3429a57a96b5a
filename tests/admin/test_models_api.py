"""The admin API for models: create, read, list and JSON Merge Patch (`/admin/v1/models`).

Who may call it is checked in tests/auth/test_route_guards.py; here every request carries a
token of the role it needs (editor to write, viewer to read).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from modelreg.config import DEFAULT_TIERS
from tests.admin.api import MODELS, create, exact, patch, problem_paths
from tests.fixtures.models import PROVIDER, base_meta

CREDIT_USD = Decimal("0.001")  # the default worth of one credit in US dollars
SEEDED = "claude-sonnet-4-5"
SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda m: "",
    "credits": lambda m: Decimal(m["meta"]["creditsPer1kTokens"]),
    "context_length": lambda m: int(m["meta"]["contextLength"]),
    "created": lambda m: datetime.fromisoformat(m["created_at"]),
}
SORTS = [(sort, order) for sort in SORT_KEYS for order in ("asc", "desc")]

Make = Callable[..., dict[str, Any]]


def _rate(price_usd_per_million: Decimal) -> Decimal:
    """Credits per 1k tokens for a price in USD per 1M tokens."""
    return price_usd_per_million / 1000 / CREDIT_USD


def _get(client: TestClient, viewer: dict[str, str], model_id: str) -> Any:
    response = client.get(f"{MODELS}/{model_id}", headers=viewer)
    assert response.status_code == 200, response.text
    return response


def _history(client: TestClient, viewer: dict[str, str], model_id: str) -> list[int]:
    response = client.get(f"{MODELS}/{model_id}/history", headers=viewer)
    assert response.status_code == 200, response.text
    return [version["version"] for version in response.json()["data"]]


def _list(client: TestClient, viewer: dict[str, str], params: Any = None) -> dict[str, Any]:
    response = client.get(MODELS, params=params, headers=viewer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = exact(response)
    return body


def _everything(client: TestClient, viewer: dict[str, str]) -> list[dict[str, Any]]:
    body = _list(client, viewer, {"limit": 500})
    assert body["has_more"] is False
    data: list[dict[str, Any]] = body["data"]
    return data


def _ids(models: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in models]


def _listed_ids(client: TestClient, viewer: dict[str, str], params: Any) -> list[str]:
    return _ids(_list(client, viewer, [*params, ("limit", "500")])["data"])


def _credits(meta: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, bool]:
    return (
        Decimal(meta["inputCreditsPer1kTokens"]),
        Decimal(meta["outputCreditsPer1kTokens"]),
        Decimal(meta["creditsPer1kTokens"]),
        meta["creditsPinned"],
    )


def _admits(meta: dict[str, Any], tier: str) -> bool:
    """The tier rule, written out: minimum, exact or whitelist."""
    mode = meta["tierRestrictionMode"]
    if mode == "minimum":
        return DEFAULT_TIERS.index(tier) >= DEFAULT_TIERS.index(meta["requiredTier"])
    if mode == "exact":
        return bool(tier == meta["requiredTier"])
    return tier in meta["allowedTiers"]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


# POST: refused.


def test_create_with_an_existing_id_is_a_conflict(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str]
) -> None:
    response = create(client, editor, {"id": SEEDED})

    assert response.status_code == 409
    assert response.json()["code"] == "model_exists"
    assert exact(_get(client, viewer, SEEDED))["provider"] == "anthropic"


def test_create_reports_every_bad_meta_field_at_its_path(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], fresh_id: str
) -> None:
    meta = base_meta(contextLength=0, capabilities=["telepathy"])

    response = create(client, editor, {"id": fresh_id, "meta": meta})

    assert {"meta.contextLength", "meta.capabilities"} <= set(problem_paths(response))
    assert client.get(f"{MODELS}/{fresh_id}", headers=viewer).status_code == 404


@pytest.mark.parametrize("bad_id", ["Upper-Case", "-leading-dash", "with space", "x" * 101, ""])
def test_create_reports_a_bad_id_at_its_path(
    client: TestClient, editor: dict[str, str], bad_id: str
) -> None:
    response = create(client, editor, {"id": bad_id})

    assert problem_paths(response) == ["id"]


def test_create_reports_an_unknown_top_level_key_at_its_path(
    client: TestClient, editor: dict[str, str], fresh_id: str
) -> None:
    response = create(client, editor, {"id": fresh_id, "colour": "blue"})

    assert problem_paths(response) == ["colour"]


def test_create_reports_top_level_and_meta_errors_together(
    client: TestClient, editor: dict[str, str]
) -> None:
    body = {"id": "Bad Id", "meta": base_meta(contextLength=0), "colour": "blue"}

    response = create(client, editor, body)

    assert {"id", "colour", "meta.contextLength"} <= set(problem_paths(response))


# POST: created.


def test_create_answers_201_with_etag_1_and_location(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], fresh_id: str
) -> None:
    response = create(client, editor, {"id": fresh_id})

    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{MODELS}/{fresh_id}"
    body = exact(response)
    assert (body["id"], body["version"], body["state"], body["is_available"]) == (
        fresh_id,
        1,
        "active",
        True,
    )
    located = client.get(response.headers["Location"], headers=viewer)
    assert located.status_code == 200
    assert located.headers["ETag"] == '"1"'
    assert exact(located) == body


def test_create_computes_unpinned_credits_from_the_prices(model: dict[str, Any]) -> None:
    meta = model["meta"]
    input_rate = _rate(Decimal("0.5"))
    output_rate = _rate(Decimal("2.5"))

    assert _credits(meta) == (input_rate, output_rate, (input_rate + output_rate) / 2, False)


def test_create_keeps_given_credits_and_pins_them(make_model: Make) -> None:
    meta = make_model(
        creditsPer1kTokens=Decimal("7"),
        inputCreditsPer1kTokens=Decimal("4"),
        outputCreditsPer1kTokens=Decimal("10"),
    )["meta"]

    assert _credits(meta) == (Decimal(4), Decimal(10), Decimal(7), True)


def test_create_pins_a_given_blended_rate(make_model: Make) -> None:
    meta = make_model(creditsPer1kTokens=Decimal("7"))["meta"]

    assert (Decimal(meta["creditsPer1kTokens"]), meta["creditsPinned"]) == (Decimal(7), True)


def test_create_of_a_free_model_with_given_credits_is_accepted(make_model: Make) -> None:
    meta = make_model(
        inputCostUsdPerMillionTokens=0, outputCostUsdPerMillionTokens=0, creditsPer1kTokens=1
    )["meta"]

    assert (Decimal(meta["creditsPer1kTokens"]), meta["creditsPinned"]) == (Decimal(1), True)


def test_create_keeps_exact_decimal_prices(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], fresh_id: str
) -> None:
    raw = (
        f'{{"id": "{fresh_id}", "name": "Exact", "provider": "{PROVIDER}", "meta": {{'
        '"displayName": "Exact", "capabilities": ["text"], "contextLength": 8192,'
        ' "inputCostUsdPerMillionTokens": 0.075, "outputCostUsdPerMillionTokens": 1234.000001,'
        ' "requiredTier": "free", "tierRestrictionMode": "minimum", "allowedTiers": []}}'
    )

    created = create(client, editor, raw)

    assert created.status_code == 201, created.text
    for response in (created, _get(client, viewer, fresh_id)):
        meta = exact(response)["meta"]
        prices = (meta["inputCostUsdPerMillionTokens"], meta["outputCostUsdPerMillionTokens"])
        assert [str(p) for p in prices] == ["0.075", "1234.000001"]
        assert all(isinstance(p, Decimal) for p in prices)
        assert (meta["inputCreditsPer1kTokens"], meta["outputCreditsPer1kTokens"]) == (
            _rate(Decimal("0.075")),
            _rate(Decimal("1234.000001")),
        )


# GET one.


def test_get_an_unknown_model_is_not_found(client: TestClient, viewer: dict[str, str]) -> None:
    response = client.get(f"{MODELS}/no-such-model", headers=viewer)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# PATCH: refused.


def test_patch_of_an_unknown_model_is_not_found(client: TestClient, editor: dict[str, str]) -> None:
    response = patch(client, editor, "no-such-model", {"name": "x"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "key",
    [
        "colour",
        "id",
        "version",
        "state",
        "is_legacy",
        "is_archived",
        "available_before_archive",
        "created_at",
    ],
)
def test_patch_refuses_an_unknown_or_lifecycle_top_level_key(
    client: TestClient,
    editor: dict[str, str],
    viewer: dict[str, str],
    model: dict[str, Any],
    key: str,
) -> None:
    response = patch(client, editor, model["id"], {key: True, "name": "Renamed"})

    assert problem_paths(response) == [key]
    assert exact(_get(client, viewer, model["id"])) == model


@pytest.mark.parametrize("key", ["name", "provider", "is_available"])
def test_patch_refuses_removing_a_required_field(
    client: TestClient, editor: dict[str, str], model: dict[str, Any], key: str
) -> None:
    response = patch(client, editor, model["id"], {key: None})

    assert problem_paths(response) == [key]


def test_patch_refuses_a_meta_that_is_not_an_object(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": ["not", "an", "object"]})

    assert problem_paths(response) == ["meta"]


def test_patch_validates_the_merged_meta_as_a_whole(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"maxOutputTokens": 10_000}})

    assert problem_paths(response) == ["meta.maxOutputTokens"]
    assert exact(_get(client, viewer, model["id"])) == model


def test_patch_shrinking_the_context_below_max_output_is_refused_at_max_output(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"contextLength": 1024}})

    assert problem_paths(response) == ["meta.maxOutputTokens"]


def test_patch_removing_a_required_meta_key_is_refused_at_its_path(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"displayName": None}})

    assert problem_paths(response) == ["meta.displayName"]


def test_stale_if_match_is_refused_with_412_and_changes_nothing(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    assert patch(client, editor, model["id"], {"name": "Second"}).status_code == 200
    before = exact(_get(client, viewer, model["id"]))

    response = patch(client, editor, model["id"], {"name": "Stale"}, if_match='"1"')

    assert response.status_code == 412
    assert response.json()["code"] == "version_conflict"
    assert exact(_get(client, viewer, model["id"])) == before
    assert _history(client, viewer, model["id"]) == [1, 2]


def test_patch_making_an_archived_model_available_is_a_conflict(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    archived = client.post(
        f"{MODELS}/{model['id']}/archive", json={"reason": "retired"}, headers=editor
    )
    assert archived.status_code == 200, archived.text

    response = patch(client, editor, model["id"], {"is_available": True})

    assert response.status_code == 409
    assert response.json()["code"] == "model_is_archived"
    after = exact(_get(client, viewer, model["id"]))
    assert (after["state"], after["is_available"], after["version"]) == ("archived", False, 2)


# PATCH: merge semantics.


def test_patch_null_removes_a_meta_key(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"maxOutputTokens": None}})

    assert response.status_code == 200, response.text
    for body in (exact(response), exact(_get(client, viewer, model["id"]))):
        assert "maxOutputTokens" not in body["meta"]
        assert body["meta"]["contextLength"] == 8192


def test_patch_merges_nested_objects(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    change = {"meta": {"providerMetadata": {"limits": {"rpm": 500, "tpm": None}, "tier": "gold"}}}

    response = patch(client, editor, model["id"], change)

    assert response.status_code == 200, response.text
    assert exact(response)["meta"]["providerMetadata"] == {
        "region": "eu",
        "limits": {"rpm": 500},
        "tier": "gold",
    }


def test_patch_replaces_arrays_whole(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"capabilities": ["vision"]}})

    assert response.status_code == 200, response.text
    assert exact(response)["meta"]["capabilities"] == ["vision"]


def test_patch_leaves_untouched_fields_as_they_were(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"provider": "otherlab"})

    body = exact(response)
    assert body["provider"] == "otherlab"
    assert (body["name"], body["is_available"], body["meta"]) == (
        model["name"],
        model["is_available"],
        model["meta"],
    )


def test_patch_keeps_unknown_meta_keys(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"vendorSpecific": {"a": [1, 2]}}})

    assert response.status_code == 200, response.text
    assert exact(_get(client, viewer, model["id"]))["meta"]["vendorSpecific"] == {"a": [1, 2]}


def test_patch_keeps_exact_decimal_prices(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    raw = (
        '{"meta": {"inputCostUsdPerMillionTokens": 0.075,'
        ' "outputCostUsdPerMillionTokens": 1234.000001}}'
    )

    response = patch(client, editor, model["id"], raw)

    assert response.status_code == 200, response.text
    for body in (exact(response), exact(_get(client, viewer, model["id"]))):
        meta = body["meta"]
        prices = (meta["inputCostUsdPerMillionTokens"], meta["outputCostUsdPerMillionTokens"])
        assert [str(p) for p in prices] == ["0.075", "1234.000001"]


# PATCH: credits.


def test_price_change_recomputes_unpinned_credits(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(
        client, editor, model["id"], {"meta": {"inputCostUsdPerMillionTokens": Decimal("1.5")}}
    )

    assert response.status_code == 200, response.text
    input_rate, output_rate = _rate(Decimal("1.5")), _rate(Decimal("2.5"))
    assert _credits(exact(response)["meta"]) == (
        input_rate,
        output_rate,
        (input_rate + output_rate) / 2,
        False,
    )


def _pin(client: TestClient, editor: dict[str, str], model_id: str) -> None:
    pinned = {
        "creditsPer1kTokens": Decimal("7"),
        "inputCreditsPer1kTokens": Decimal("4"),
        "outputCreditsPer1kTokens": Decimal("10"),
    }
    response = patch(client, editor, model_id, {"meta": pinned})
    assert response.status_code == 200, response.text
    assert _credits(exact(response)["meta"]) == (Decimal(4), Decimal(10), Decimal(7), True)


def test_giving_credits_in_a_patch_keeps_and_pins_them(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    _pin(client, editor, model["id"])

    stored = exact(_get(client, viewer, model["id"]))["meta"]
    assert _credits(stored) == (Decimal(4), Decimal(10), Decimal(7), True)


def test_giving_only_the_blended_rate_in_a_patch_pins_it(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    response = patch(client, editor, model["id"], {"meta": {"creditsPer1kTokens": 3}})

    meta = exact(response)["meta"]
    assert (Decimal(meta["creditsPer1kTokens"]), meta["creditsPinned"]) == (Decimal(3), True)


def test_price_change_keeps_pinned_credits(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    _pin(client, editor, model["id"])

    response = patch(
        client, editor, model["id"], {"meta": {"outputCostUsdPerMillionTokens": Decimal("40")}}
    )

    assert response.status_code == 200, response.text
    assert _credits(exact(response)["meta"]) == (Decimal(4), Decimal(10), Decimal(7), True)


def test_unpinning_recomputes_the_credits(
    client: TestClient, editor: dict[str, str], model: dict[str, Any]
) -> None:
    _pin(client, editor, model["id"])

    response = patch(client, editor, model["id"], {"meta": {"creditsPinned": False}})

    assert response.status_code == 200, response.text
    input_rate, output_rate = _rate(Decimal("0.5")), _rate(Decimal("2.5"))
    assert _credits(exact(response)["meta"]) == (
        input_rate,
        output_rate,
        (input_rate + output_rate) / 2,
        False,
    )


# PATCH: versions.


def test_noop_patch_answers_200_with_the_same_version(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    change = {"name": model["name"], "meta": {"contextLength": 8192, "providerMetadata": {}}}

    response = patch(client, editor, model["id"], change)

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    assert exact(response) == model
    assert _history(client, viewer, model["id"]) == [1]


def test_each_change_increments_the_version_and_the_etag(
    client: TestClient, editor: dict[str, str], viewer: dict[str, str], model: dict[str, Any]
) -> None:
    first = patch(client, editor, model["id"], {"name": "Second"}, if_match='"1"')
    second = patch(client, editor, model["id"], {"name": "Third"}, if_match=first.headers["ETag"])

    assert [first.status_code, second.status_code] == [200, 200]
    assert [first.headers["ETag"], second.headers["ETag"]] == ['"2"', '"3"']
    current = _get(client, viewer, model["id"])
    assert (current.headers["ETag"], exact(current)["version"]) == ('"3"', 3)
    assert _history(client, viewer, model["id"]) == [1, 2, 3]


# GET list: refused.


@pytest.mark.parametrize(
    "params",
    [
        {"state": "retired"},
        {"tier": "platinum"},
        {"sort": "price"},
        {"order": "sideways"},
        {"limit": "0"},
        {"capability_match": "some"},
        {"max_credits_per_1k": "-1"},
    ],
    ids=lambda p: next(iter(p)),
)
def test_list_refuses_a_bad_parameter(
    client: TestClient, viewer: dict[str, str], params: dict[str, str]
) -> None:
    response = client.get(MODELS, params=params, headers=viewer)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("id", "not a cursor!"),
        ("id", _cursor("[]")),
        ("credits", _cursor('["lots", "gpt-5"]')),
        ("context_length", _cursor('["long", "gpt-5"]')),
        ("created", _cursor('["yesterday", "gpt-5"]')),
        ("created", _cursor('[null, "gpt-5"]')),
    ],
)
def test_list_refuses_a_garbage_cursor(
    client: TestClient, viewer: dict[str, str], sort: str, cursor: str
) -> None:
    response = client.get(MODELS, params={"sort": sort, "after": cursor}, headers=viewer)

    assert problem_paths(response) == ["after"]


# GET list: filters.


def test_list_has_every_model_in_every_state(
    client: TestClient,
    viewer: dict[str, str],
    archived_id: str,
    admin_url: URL,
    engine_for: Callable[[URL], Engine],
) -> None:
    with engine_for(admin_url).connect() as conn:
        stored = sorted(str(i) for i in conn.execute(text("SELECT id FROM models")).scalars())

    listed = {m["id"]: m for m in _everything(client, viewer)}

    assert sorted(listed) == stored
    assert listed[archived_id]["state"] == "archived"
    assert listed["gpt-4o"]["state"] == "legacy"
    assert listed["claude-3-5-haiku"]["is_available"] is False


def test_list_filters_by_provider(client: TestClient, viewer: dict[str, str]) -> None:
    everything = _everything(client, viewer)

    listed = _listed_ids(client, viewer, [("provider", "mistral")])

    assert listed == [m["id"] for m in everything if m["provider"] == "mistral"]
    assert len(listed) == 4


@pytest.mark.parametrize(
    ("match", "wanted"),
    [
        ("all", ["audio", "reasoning"]),
        ("all", ["vision", "structured_output", "long_context"]),
        ("any", ["audio", "reasoning"]),
        ("any", ["structured_output"]),
    ],
)
def test_list_filters_by_capabilities(
    client: TestClient, viewer: dict[str, str], match: str, wanted: list[str]
) -> None:
    everything = _everything(client, viewer)
    params = [("capability", c) for c in wanted] + [("capability_match", match)]

    listed = _listed_ids(client, viewer, params)

    check = set(wanted).issubset if match == "all" else set(wanted).intersection
    expected = [m["id"] for m in everything if check(m["meta"]["capabilities"])]
    assert listed == expected
    assert 0 < len(listed) < len(everything)


def test_list_capability_all_needs_every_one_and_any_needs_one(
    client: TestClient, viewer: dict[str, str]
) -> None:
    wanted = [("capability", "audio"), ("capability", "function_calling")]

    every = _listed_ids(client, viewer, [*wanted, ("capability_match", "all")])
    some = _listed_ids(client, viewer, [*wanted, ("capability_match", "any")])

    assert "gemini-2.5-pro" in every
    assert "gpt-5" not in every
    assert "gpt-5" in some


@pytest.mark.parametrize("tier", DEFAULT_TIERS)
def test_list_filters_by_tier(client: TestClient, viewer: dict[str, str], tier: str) -> None:
    everything = _everything(client, viewer)

    listed = _listed_ids(client, viewer, [("tier", tier)])

    assert listed == [m["id"] for m in everything if _admits(m["meta"], tier)]


def test_list_tier_minimum_admits_the_required_tier_and_above(
    client: TestClient, viewer: dict[str, str]
) -> None:
    # gpt-5 needs pro_max or higher.
    admitted = {t for t in DEFAULT_TIERS if "gpt-5" in _listed_ids(client, viewer, [("tier", t)])}

    assert admitted == {"pro_max", "enterprise_pro", "enterprise_max", "perpetual"}


def test_list_tier_exact_admits_that_tier_only(client: TestClient, viewer: dict[str, str]) -> None:
    # llama-3.3-70b is for perpetual exactly.
    admitted = {
        t for t in DEFAULT_TIERS if "llama-3.3-70b" in _listed_ids(client, viewer, [("tier", t)])
    }

    assert admitted == {"perpetual"}


def test_list_tier_whitelist_admits_the_listed_tiers_only(
    client: TestClient, viewer: dict[str, str]
) -> None:
    # claude-opus-4-1 is for enterprise_pro and enterprise_max, not the higher perpetual.
    admitted = {
        t for t in DEFAULT_TIERS if "claude-opus-4-1" in _listed_ids(client, viewer, [("tier", t)])
    }

    assert admitted == {"enterprise_pro", "enterprise_max"}


@pytest.mark.parametrize("limit", ["1", "0.4", "5.625", "0"])
def test_list_filters_by_max_credits_inclusively(
    client: TestClient, viewer: dict[str, str], limit: str
) -> None:
    everything = _everything(client, viewer)

    listed = _listed_ids(client, viewer, [("max_credits_per_1k", limit)])

    ceiling = Decimal(limit)
    assert listed == [
        m["id"] for m in everything if Decimal(m["meta"]["creditsPer1kTokens"]) <= ceiling
    ]
    if ceiling == 1:
        assert "gpt-4.1-mini" in listed  # exactly 1 credit


@pytest.mark.parametrize(
    "states", [["active"], ["legacy"], ["archived"], ["active", "legacy"], ["legacy", "archived"]]
)
def test_list_filters_by_state(
    client: TestClient, viewer: dict[str, str], archived_id: str, states: list[str]
) -> None:
    everything = _everything(client, viewer)

    listed = _listed_ids(client, viewer, [("state", s) for s in states])

    assert listed == [m["id"] for m in everything if m["state"] in states]
    assert (archived_id in listed) is ("archived" in states)


@pytest.mark.parametrize("needle", ["HAIKU", "gemini 2.5", "4.1", "%", "_", "\\"])
def test_list_searches_id_and_display_name_literally(
    client: TestClient, viewer: dict[str, str], needle: str
) -> None:
    everything = _everything(client, viewer)

    listed = _listed_ids(client, viewer, [("q", needle)])

    folded = needle.casefold()
    assert listed == [
        m["id"]
        for m in everything
        if folded in m["id"].casefold() or folded in m["meta"]["displayName"].casefold()
    ]
    if needle == "HAIKU":
        assert {"claude-haiku-4-5", "claude-3-5-haiku"} <= set(listed)


# GET list: order and pages.


@pytest.mark.parametrize(("sort", "order"), SORTS)
def test_list_sorts(client: TestClient, viewer: dict[str, str], sort: str, order: str) -> None:
    everything = _everything(client, viewer)
    key = SORT_KEYS[sort]

    listed = _listed_ids(client, viewer, [("sort", sort), ("order", order)])

    expected = sorted(everything, key=lambda m: (key(m), m["id"]), reverse=order == "desc")
    assert listed == _ids(expected)


@pytest.mark.parametrize(("sort", "order"), SORTS)
def test_list_pages_walk_every_model_once(
    client: TestClient, viewer: dict[str, str], sort: str, order: str
) -> None:
    whole = _listed_ids(client, viewer, [("sort", sort), ("order", order)])
    walked: list[str] = []
    after: str | None = None
    for _ in range(len(whole)):
        params = {"sort": sort, "order": order, "limit": "4"}
        if after is not None:
            params["after"] = after
        page = _list(client, viewer, params)
        walked += _ids(page["data"])
        assert page["has_more"] is (page["next_after"] is not None)
        after = page["next_after"]
        if after is None:
            break

    assert after is None
    assert walked == whole
    assert len(set(walked)) == len(walked)
