"""Replacements of legacy models: what may be named, what may be archived, how clients follow
them (`/resolve`) and what the public API says about legacy and archived models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fixtures.catalog import (
    ACTIVE,
    LEGACY,
    LEGACY_REPLACEMENT,
    LEGACY_SUNSET,
    OTHER_ACTIVE,
    THIRD_ACTIVE,
    Catalog,
)
from tests.fixtures.http import problem


def mark_legacy(catalog: Catalog, model_id: str, replacement: str | None) -> None:
    body: dict[str, str] = {"reason": "superseded"}
    if replacement is not None:
        body["replacement_model_id"] = replacement
    catalog.act_ok(model_id, "mark_legacy", body)


def refuse_replacement(catalog: Catalog, model_id: str, replacement: str) -> dict[str, object]:
    """Mark `model_id` legacy with `replacement`, expect 422 replacement_invalid and no change."""
    before = catalog.model(model_id)
    trail = catalog.trail()

    response = catalog.act(
        model_id, "mark_legacy", {"reason": "superseded", "replacement_model_id": replacement}
    )

    body: dict[str, object] = problem(response, 422, "replacement_invalid")
    assert catalog.model(model_id) == before
    assert catalog.trail() == trail
    return body


# Which replacement may be named.


def test_unknown_replacement_is_refused(catalog: Catalog) -> None:
    refuse_replacement(catalog, ACTIVE, "no-such-model")


def test_model_cannot_be_its_own_replacement(catalog: Catalog) -> None:
    refuse_replacement(catalog, ACTIVE, ACTIVE)


def test_archived_replacement_is_refused(catalog: Catalog) -> None:
    catalog.act_ok(OTHER_ACTIVE, "archive")

    refuse_replacement(catalog, ACTIVE, OTHER_ACTIVE)


def test_replacement_loop_of_two_models_is_refused_with_its_chain(catalog: Catalog) -> None:
    mark_legacy(catalog, OTHER_ACTIVE, ACTIVE)

    body = refuse_replacement(catalog, ACTIVE, OTHER_ACTIVE)

    assert body["chain"] == [ACTIVE, OTHER_ACTIVE, ACTIVE]


def test_replacement_loop_of_three_models_is_refused_with_its_chain(catalog: Catalog) -> None:
    mark_legacy(catalog, ACTIVE, OTHER_ACTIVE)
    mark_legacy(catalog, OTHER_ACTIVE, THIRD_ACTIVE)

    body = refuse_replacement(catalog, THIRD_ACTIVE, ACTIVE)

    assert body["chain"] == [THIRD_ACTIVE, ACTIVE, OTHER_ACTIVE, THIRD_ACTIVE]


def test_legacy_model_may_be_named_as_replacement(catalog: Catalog) -> None:
    mark_legacy(catalog, ACTIVE, LEGACY)

    assert catalog.model(ACTIVE)["meta"]["legacyReplacementModelId"] == LEGACY


def test_unarchive_is_refused_while_the_replacement_is_archived(catalog: Catalog) -> None:
    mark_legacy(catalog, ACTIVE, OTHER_ACTIVE)
    catalog.act_ok(ACTIVE, "archive")
    catalog.act_ok(OTHER_ACTIVE, "archive")
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, "unarchive")

    problem(response, 422, "replacement_invalid")
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


# Archiving a model that is someone's replacement.


def test_archiving_a_named_replacement_is_refused_listing_who_names_it(catalog: Catalog) -> None:
    mark_legacy(catalog, ACTIVE, LEGACY_REPLACEMENT)
    before = catalog.model(LEGACY_REPLACEMENT)
    trail = catalog.trail()

    response = catalog.act(LEGACY_REPLACEMENT, "archive")

    body = problem(response, 409, "replacement_in_use")
    assert body["replaced_models"] == sorted([LEGACY, ACTIVE])
    assert catalog.model(LEGACY_REPLACEMENT) == before
    assert catalog.trail() == trail


def test_archiving_a_named_replacement_with_force_goes_through(catalog: Catalog) -> None:
    model = catalog.act_ok(LEGACY_REPLACEMENT, "archive", {"reason": "retired", "force": True})

    assert model["state"] == "archived"
    assert catalog.model(LEGACY_REPLACEMENT)["state"] == "archived"


def test_replacement_named_only_by_archived_models_may_be_archived(catalog: Catalog) -> None:
    catalog.act_ok(LEGACY, "archive")

    model = catalog.act_ok(LEGACY_REPLACEMENT, "archive")

    assert model["state"] == "archived"


# Revert is held to the same replacement rules as the lifecycle actions.


def test_revert_to_an_archived_version_is_refused_while_others_name_the_model(
    catalog: Catalog,
) -> None:
    catalog.act_ok(ACTIVE, "archive")  # version 2: archived
    catalog.act_ok(ACTIVE, "unarchive")
    mark_legacy(catalog, OTHER_ACTIVE, ACTIVE)
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.revert(ACTIVE, 2)

    body = problem(response, 409, "replacement_in_use")
    assert body["replaced_models"] == [OTHER_ACTIVE]
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_revert_to_a_legacy_version_is_refused_while_its_replacement_is_archived(
    catalog: Catalog,
) -> None:
    mark_legacy(catalog, ACTIVE, OTHER_ACTIVE)  # version 2: legacy, replaced by OTHER_ACTIVE
    catalog.act_ok(ACTIVE, "archive")
    catalog.act_ok(OTHER_ACTIVE, "archive")
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.revert(ACTIVE, 2)

    problem(response, 422, "replacement_invalid")
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


# Resolving a legacy model to the one to call.


def test_resolve_follows_the_replacement(catalog: Catalog) -> None:
    response = catalog.client.get(f"/v1/models/{LEGACY}/resolve")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["requested"] == LEGACY
    assert body["resolved"] == LEGACY_REPLACEMENT
    assert body["chain"] == [LEGACY, LEGACY_REPLACEMENT]
    assert body["model"]["id"] == LEGACY_REPLACEMENT


def test_resolve_follows_a_chain_of_replacements(catalog: Catalog) -> None:
    mark_legacy(catalog, LEGACY_REPLACEMENT, OTHER_ACTIVE)

    response = catalog.client.get(f"/v1/models/{LEGACY}/resolve")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolved"] == OTHER_ACTIVE
    assert body["chain"] == [LEGACY, LEGACY_REPLACEMENT, OTHER_ACTIVE]


def test_resolve_of_an_active_model_is_the_model_itself(catalog: Catalog) -> None:
    response = catalog.client.get(f"/v1/models/{ACTIVE}/resolve")

    assert response.status_code == 200, response.text
    assert response.json()["resolved"] == ACTIVE
    assert response.json()["chain"] == [ACTIVE]


def test_resolve_to_an_archived_model_is_gone_with_the_chain(catalog: Catalog) -> None:
    catalog.act_ok(LEGACY_REPLACEMENT, "archive", {"reason": "retired", "force": True})

    response = catalog.client.get(f"/v1/models/{LEGACY}/resolve")

    body = problem(response, 410, "chain_ends_unserved")
    assert body["chain"] == [LEGACY, LEGACY_REPLACEMENT]


# What the public API says about legacy and archived models.


def test_active_model_has_no_deprecation_headers(catalog: Catalog) -> None:
    response = catalog.client.get(f"/v1/models/{ACTIVE}")

    assert response.status_code == 200, response.text
    assert {"deprecation", "sunset", "link"}.isdisjoint(response.headers)


def test_legacy_model_is_served_with_deprecation_sunset_and_successor_link(
    catalog: Catalog,
) -> None:
    response = catalog.client.get(f"/v1/models/{LEGACY}")

    assert response.status_code == 200, response.text
    assert response.headers["Deprecation"].startswith("@")
    assert int(response.headers["Deprecation"][1:]) > 0
    assert response.headers["Sunset"] == "Thu, 14 Jan 2027 00:00:00 GMT"
    assert response.headers["Link"] == f'</v1/models/{LEGACY_REPLACEMENT}>; rel="successor-version"'
    legacy = response.json()["legacy"]
    assert legacy["replacement_model_id"] == LEGACY_REPLACEMENT
    assert legacy["sunset_date"] == LEGACY_SUNSET


def test_deprecation_header_is_the_time_the_model_was_marked_legacy(catalog: Catalog) -> None:
    started = int(datetime.now(UTC).timestamp())
    mark_legacy(catalog, ACTIVE, OTHER_ACTIVE)

    response = catalog.client.get(f"/v1/models/{ACTIVE}")

    assert response.status_code == 200, response.text
    deprecation = response.headers["Deprecation"]
    assert deprecation.startswith("@")
    assert started <= int(deprecation[1:]) <= int(datetime.now(UTC).timestamp())


def test_sunset_header_of_a_sunset_datetime_is_its_utc_http_date(catalog: Catalog) -> None:
    catalog.act_ok(
        ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": "2030-01-01T10:00:00+02:00"}
    )

    response = catalog.client.get(f"/v1/models/{ACTIVE}")

    assert response.status_code == 200, response.text
    assert response.headers["Sunset"] == "Tue, 01 Jan 2030 08:00:00 GMT"


def test_legacy_model_without_sunset_or_replacement_has_only_the_deprecation_header(
    catalog: Catalog,
) -> None:
    mark_legacy(catalog, ACTIVE, None)

    response = catalog.client.get(f"/v1/models/{ACTIVE}")

    assert response.status_code == 200, response.text
    assert response.headers["Deprecation"].startswith("@")
    assert "sunset" not in response.headers
    assert "link" not in response.headers


@pytest.mark.parametrize(
    ("model_id", "replacement"),
    [
        pytest.param(LEGACY, LEGACY_REPLACEMENT, id="legacy"),
        pytest.param(ACTIVE, None, id="active"),
    ],
)
def test_archived_model_is_gone_naming_its_replacement(
    catalog: Catalog, model_id: str, replacement: str | None
) -> None:
    catalog.act_ok(model_id, "archive")

    response = catalog.client.get(f"/v1/models/{model_id}")

    body = problem(response, 410, "model_archived")
    assert body["model_id"] == model_id
    assert body["replacement_model_id"] == replacement
