"""`/v1/models/{id}`, its `/access`, `/estimate` and `/resolve` over the seeded catalog."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from tests.fixtures.http import PROBLEM_JSON, media_type
from tests.public.helpers import assert_validation_problem, body_of, patch_model

PRICED_2_8 = "gpt-4.1"  # 2 USD in, 8 USD out per million tokens; 2 and 8 credits per 1k
LEGACY = "gpt-4o"  # replaced by gpt-4.1, sunset 2027-01-14
MINIMUM_PRO_MAX = "gpt-5"
EXACT_PERPETUAL = "llama-3.3-70b"  # exact, at the highest tier
WHITELISTED = "claude-opus-4-1"  # enterprise_pro, enterprise_max
MADE_EXACT_PRO = "mistral-large"
UNKNOWN = "no-such-model"


def _access(client: TestClient, model_id: str, tier: str) -> dict[str, Any]:
    response = client.get(f"/v1/models/{model_id}/access", params={"tier": tier})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _estimate(client: TestClient, model_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/models/{model_id}/estimate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = body_of(response)
    return result


def _assert_not_found(response: httpx2.Response) -> None:
    assert response.status_code == 404, response.text
    assert media_type(response) == PROBLEM_JSON
    assert response.json()["code"] == "not_found"


# One model.


def test_unknown_model_is_a_not_found_problem(client: TestClient) -> None:
    _assert_not_found(client.get(f"/v1/models/{UNKNOWN}"))


def test_known_model_is_served_with_exact_prices(client: TestClient) -> None:
    response = client.get(f"/v1/models/{PRICED_2_8}")

    assert response.status_code == 200
    model = body_of(response)
    assert (model["id"], model["object"], model["owned_by"]) == (PRICED_2_8, "model", "openai")
    assert type(model["created"]) is int
    assert (model["pricing"]["input"], model["pricing"]["output"]) == (2, 8)
    assert model["credits"]["per_1k_tokens"] == 5
    assert model["state"] == "active"


def test_legacy_model_carries_deprecation_sunset_and_successor_headers(
    client: TestClient,
) -> None:
    response = client.get(f"/v1/models/{LEGACY}")

    assert response.status_code == 200
    assert body_of(response)["legacy"]["replacement_model_id"] == PRICED_2_8
    assert response.headers["deprecation"].startswith("@")
    assert response.headers["sunset"] == "Thu, 14 Jan 2027 00:00:00 GMT"
    assert response.headers["link"] == f'</v1/models/{PRICED_2_8}>; rel="successor-version"'


def test_active_model_has_no_deprecation_headers(client: TestClient) -> None:
    response = client.get(f"/v1/models/{PRICED_2_8}")

    assert response.status_code == 200
    assert not {"deprecation", "sunset", "link"} & {name.lower() for name in response.headers}


# Access.


def test_access_for_an_unknown_tier_is_a_validation_problem(client: TestClient) -> None:
    response = client.get(f"/v1/models/{PRICED_2_8}/access", params={"tier": "platinum"})

    assert_validation_problem(response, "tier")


def test_access_without_a_tier_is_a_validation_problem(client: TestClient) -> None:
    response = client.get(f"/v1/models/{PRICED_2_8}/access")

    assert_validation_problem(response, "tier")


def test_access_to_an_unknown_model_is_not_found(client: TestClient) -> None:
    _assert_not_found(client.get(f"/v1/models/{UNKNOWN}/access", params={"tier": "free"}))


@pytest.mark.parametrize("tier", ["pro_max", "enterprise_pro", "perpetual"])
def test_minimum_model_allows_its_tier_and_above(client: TestClient, tier: str) -> None:
    access = _access(client, MINIMUM_PRO_MAX, tier)

    assert access["allowed"] is True
    assert access["upgrade_to"] is None
    assert access["required_tier"] == "pro_max"


def test_minimum_model_refuses_a_lower_tier_with_the_required_tier_as_upgrade(
    client: TestClient,
) -> None:
    access = _access(client, MINIMUM_PRO_MAX, "free")

    assert access == {
        "allowed": False,
        "reason": access["reason"],
        "required_tier": "pro_max",
        "upgrade_to": "pro_max",
    }
    assert "pro_max" in access["reason"]


def test_exact_model_allows_only_its_tier(client: TestClient) -> None:
    assert _access(client, EXACT_PERPETUAL, "perpetual")["allowed"] is True
    assert _access(client, EXACT_PERPETUAL, "enterprise_max")["allowed"] is False


def test_exact_model_refuses_a_lower_tier_with_its_tier_as_upgrade(client: TestClient) -> None:
    access = _access(client, EXACT_PERPETUAL, "free")

    assert access["allowed"] is False
    assert access["upgrade_to"] == "perpetual"


def test_exact_model_gives_a_tier_above_it_no_upgrade(
    seeded_url: URL, serve: Callable[[], TestClient]
) -> None:
    patch_model(
        seeded_url,
        MADE_EXACT_PRO,
        {"meta": {"tierRestrictionMode": "exact", "requiredTier": "pro"}},
    )
    client = serve()

    above = _access(client, MADE_EXACT_PRO, "pro_max")
    below = _access(client, MADE_EXACT_PRO, "free")

    assert (above["allowed"], above["upgrade_to"]) == (False, None)
    assert (below["allowed"], below["upgrade_to"]) == (False, "pro")
    assert _access(client, MADE_EXACT_PRO, "pro")["allowed"] is True


@pytest.mark.parametrize("tier", ["enterprise_pro", "enterprise_max"])
def test_whitelist_model_allows_the_listed_tiers(client: TestClient, tier: str) -> None:
    assert _access(client, WHITELISTED, tier)["allowed"] is True


def test_whitelist_model_offers_the_lowest_listed_tier_above_as_upgrade(
    client: TestClient,
) -> None:
    access = _access(client, WHITELISTED, "pro")

    assert access["allowed"] is False
    assert access["upgrade_to"] == "enterprise_pro"


def test_whitelist_model_gives_a_tier_above_every_listed_one_no_upgrade(
    client: TestClient,
) -> None:
    access = _access(client, WHITELISTED, "perpetual")

    assert access["allowed"] is False
    assert access["upgrade_to"] is None


# Estimate.


def test_estimate_with_negative_tokens_is_a_validation_problem(client: TestClient) -> None:
    response = client.post(
        f"/v1/models/{PRICED_2_8}/estimate", json={"input_tokens": -1, "output_tokens": 500}
    )

    assert_validation_problem(response, "input_tokens")


def test_estimate_with_an_unknown_body_key_is_a_validation_problem(client: TestClient) -> None:
    response = client.post(
        f"/v1/models/{PRICED_2_8}/estimate",
        json={"input_tokens": 1500, "output_tokens": 500, "cached_tokens": 10},
    )

    assert_validation_problem(response, "cached_tokens")


def test_estimate_for_an_unknown_tier_is_a_validation_problem(client: TestClient) -> None:
    response = client.post(
        f"/v1/models/{PRICED_2_8}/estimate",
        json={"input_tokens": 1500, "output_tokens": 500, "tier": "platinum"},
    )

    assert_validation_problem(response, "tier")


def test_estimate_for_an_unknown_model_is_not_found(client: TestClient) -> None:
    _assert_not_found(
        client.post(f"/v1/models/{UNKNOWN}/estimate", json={"input_tokens": 1, "output_tokens": 1})
    )


def test_estimate_is_exact_credits_and_usd(client: TestClient) -> None:
    result = _estimate(client, PRICED_2_8, input_tokens=1500, output_tokens=500)

    assert result["model"] == PRICED_2_8
    assert result["tier"] is None
    assert (result["input_tokens"], result["output_tokens"]) == (1500, 500)
    assert result["credits"] == Decimal(7)
    assert result["usd"] == Decimal("0.007")
    assert result["breakdown"] == {
        "input_credits": Decimal(3),
        "output_credits": Decimal(4),
        "input_usd": Decimal("0.003"),
        "output_usd": Decimal("0.004"),
    }


def test_estimate_numbers_are_json_numbers_not_strings(client: TestClient) -> None:
    result = _estimate(client, PRICED_2_8, input_tokens=1500, output_tokens=500)

    assert isinstance(result["credits"], int | Decimal)
    assert isinstance(result["usd"], int | Decimal)


def test_estimate_rounds_credits_up_to_four_places(client: TestClient) -> None:
    # llama-4-scout: 0.11 USD in per million tokens, 0.11 credits per 1k; 1 token is 0.00011.
    result = _estimate(client, "llama-4-scout", input_tokens=1, output_tokens=0)

    assert result["credits"] == Decimal("0.0002")
    assert result["usd"] == Decimal("0")


def test_estimate_with_a_tier_margin_charges_the_margin_on_credits_only(
    pro_margin: Decimal, serve: Callable[[], TestClient]
) -> None:
    client = serve()

    result = _estimate(client, PRICED_2_8, input_tokens=1500, output_tokens=500, tier="pro")

    assert pro_margin == Decimal("0.25")
    assert result["tier"] == "pro"
    assert result["credits"] == Decimal("8.75")
    assert result["usd"] == Decimal("0.007")


def test_estimate_for_a_tier_without_a_margin_is_the_base_price(
    pro_margin: Decimal, serve: Callable[[], TestClient]
) -> None:
    client = serve()

    result = _estimate(client, PRICED_2_8, input_tokens=1500, output_tokens=500, tier="free")

    assert result["credits"] == Decimal(7)


# Resolve.


def test_resolve_an_unknown_model_is_not_found(client: TestClient) -> None:
    _assert_not_found(client.get(f"/v1/models/{UNKNOWN}/resolve"))


def test_resolve_a_model_that_is_not_legacy_returns_itself(client: TestClient) -> None:
    response = client.get(f"/v1/models/{PRICED_2_8}/resolve")

    assert response.status_code == 200
    body = body_of(response)
    assert body["requested"] == PRICED_2_8
    assert body["resolved"] == PRICED_2_8
    assert body["chain"] == [PRICED_2_8]
    assert body["model"]["id"] == PRICED_2_8


def test_resolve_a_legacy_model_follows_its_replacement(client: TestClient) -> None:
    response = client.get(f"/v1/models/{LEGACY}/resolve")

    assert response.status_code == 200
    body = body_of(response)
    assert body["requested"] == LEGACY
    assert body["resolved"] == PRICED_2_8
    assert body["chain"] == [LEGACY, PRICED_2_8]
    assert body["model"]["id"] == PRICED_2_8
    assert body["model"]["state"] == "active"
