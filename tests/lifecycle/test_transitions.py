"""The lifecycle state machine over HTTP: every state x action cell, and what each action stores.

active --mark_legacy--> legacy --unmark_legacy--> active
active | legacy --archive--> archived --unarchive--> legacy (if it was) | active
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from modelreg.auth.roles import Role
from tests.fixtures.catalog import ACTION_PATHS, ACTIVE, OTHER_ACTIVE, Catalog, error_paths
from tests.fixtures.http import problem

ACTIONS = tuple(ACTION_PATHS)
LEGACY_KEYS = ("legacyReplacementModelId", "deprecationNotice", "sunsetDate", "deprecatedAt")

# How the model under test (active, available, named by no one) is brought into each state.
SETUP: dict[str, tuple[str, ...]] = {
    "active": (),
    "legacy": ("mark_legacy",),
    "archived-from-active": ("archive",),
    "archived-from-legacy": ("mark_legacy", "archive"),
}
# The state each setup leaves the model in, as the admin API and the problem body name it.
STATE_OF = {
    "active": "active",
    "legacy": "legacy",
    "archived-from-active": "archived",
    "archived-from-legacy": "archived",
}


@dataclass(frozen=True)
class Refused:
    """409 invalid_transition, naming the state the model is in and where the action leads."""

    current: str
    target: str


# The full matrix: the resulting state, or the refusal.
MATRIX: dict[tuple[str, str], str | Refused] = {
    ("active", "mark_legacy"): "legacy",
    ("active", "unmark_legacy"): Refused("active", "active"),
    ("active", "archive"): "archived",
    ("active", "unarchive"): Refused("active", "active"),
    ("legacy", "mark_legacy"): Refused("legacy", "legacy"),
    ("legacy", "unmark_legacy"): "active",
    ("legacy", "archive"): "archived",
    ("legacy", "unarchive"): Refused("legacy", "legacy"),
    ("archived-from-active", "mark_legacy"): Refused("archived", "legacy"),
    ("archived-from-active", "unmark_legacy"): Refused("archived", "active"),
    ("archived-from-active", "archive"): Refused("archived", "archived"),
    ("archived-from-active", "unarchive"): "active",
    ("archived-from-legacy", "mark_legacy"): Refused("archived", "legacy"),
    ("archived-from-legacy", "unmark_legacy"): Refused("archived", "active"),
    ("archived-from-legacy", "archive"): Refused("archived", "archived"),
    ("archived-from-legacy", "unarchive"): "legacy",
}
ALLOWED_CELLS = [
    pytest.param(state, action, outcome, id=f"{state}-{action}")
    for (state, action), outcome in MATRIX.items()
    if isinstance(outcome, str)
]
REFUSED_CELLS = [
    pytest.param(state, action, outcome, id=f"{state}-{action}")
    for (state, action), outcome in MATRIX.items()
    if isinstance(outcome, Refused)
]
# For each action, a setup in which it is allowed.
ALLOWED_FROM_SETUP = {
    "mark_legacy": "active",
    "unmark_legacy": "legacy",
    "archive": "active",
    "unarchive": "archived-from-active",
}


def bring_to(catalog: Catalog, setup: str, model_id: str = ACTIVE) -> None:
    for action in SETUP[setup]:
        catalog.act_ok(model_id, action)
    assert catalog.model(model_id)["state"] == STATE_OF[setup]


def future(days: int = 365) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


# Unauthorised and invalid requests.


@pytest.mark.parametrize("action", ACTIONS)
def test_lifecycle_action_without_a_token_is_unauthorized(catalog: Catalog, action: str) -> None:
    bring_to(catalog, ALLOWED_FROM_SETUP[action])
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, action, role=None)

    problem(response, 401, "unauthorized")
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


@pytest.mark.parametrize("action", ACTIONS)
def test_viewer_may_not_change_the_lifecycle(catalog: Catalog, action: str) -> None:
    bring_to(catalog, ALLOWED_FROM_SETUP[action])
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, action, role=Role.VIEWER)

    problem(response, 403, "forbidden")
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_lifecycle_action_on_an_unknown_model_is_not_found(catalog: Catalog) -> None:
    trail = catalog.trail()

    response = catalog.act("no-such-model", "archive")

    problem(response, 404, "not_found")
    assert catalog.trail() == trail


@pytest.mark.parametrize("action", ACTIONS)
def test_lifecycle_action_without_a_reason_is_refused(catalog: Catalog, action: str) -> None:
    bring_to(catalog, ALLOWED_FROM_SETUP[action])
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, action, {})

    body = problem(response, 422, "validation_error")
    assert "reason" in error_paths(body)
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_lifecycle_action_with_an_empty_reason_is_refused(catalog: Catalog) -> None:
    before = catalog.model(ACTIVE)

    response = catalog.act(ACTIVE, "archive", {"reason": ""})

    body = problem(response, 422, "validation_error")
    assert "reason" in error_paths(body)
    assert catalog.model(ACTIVE) == before


@pytest.mark.parametrize(
    "sunset",
    [
        pytest.param((datetime.now(UTC) - timedelta(days=1)).date().isoformat(), id="date"),
        pytest.param("2020-01-01T10:00:00+02:00", id="datetime"),
    ],
)
def test_sunset_in_the_past_is_refused(catalog: Catalog, sunset: str) -> None:
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": sunset})

    body = problem(response, 422, "validation_error")
    assert error_paths(body) == ["meta.sunsetDate"]
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_sunset_that_is_not_a_date_is_refused(catalog: Catalog) -> None:
    before = catalog.model(ACTIVE)

    response = catalog.act(ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": "soon"})

    body = problem(response, 422, "validation_error")
    assert error_paths(body) == ["meta.sunsetDate"]
    assert catalog.model(ACTIVE) == before


# The state x action matrix.


@pytest.mark.parametrize(("state", "action", "expected"), ALLOWED_CELLS)
def test_allowed_action_leads_to_its_state(
    catalog: Catalog, state: str, action: str, expected: str
) -> None:
    bring_to(catalog, state)
    before = catalog.model(ACTIVE)
    events_before = len(catalog.events(ACTIVE))

    response = catalog.act(ACTIVE, action)

    assert response.status_code == 200, response.text
    assert response.json()["state"] == expected
    assert response.headers["ETag"] == f'"{before["version"] + 1}"'
    after = catalog.model(ACTIVE)
    assert after["state"] == expected
    assert after["version"] == before["version"] + 1
    events = catalog.events(ACTIVE)
    assert len(events) == events_before + 1
    assert events[-1]["action"] == action


@pytest.mark.parametrize(("state", "action", "refused"), REFUSED_CELLS)
def test_refused_action_is_an_invalid_transition_that_changes_nothing(
    catalog: Catalog, state: str, action: str, refused: Refused
) -> None:
    bring_to(catalog, state)
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.act(ACTIVE, action)

    body = problem(response, 409, "invalid_transition")
    assert body["current_state"] == refused.current
    assert body["target_state"] == refused.target
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


# What the actions store.


def test_mark_legacy_stores_replacement_notice_and_sunset_date(catalog: Catalog) -> None:
    sunset = future()
    started = datetime.now(UTC)

    model = catalog.act_ok(
        ACTIVE,
        "mark_legacy",
        {
            "reason": "superseded",
            "replacement_model_id": OTHER_ACTIVE,
            "deprecation_notice": "Move to GPT-5.",
            "sunset_date": sunset,
        },
    )

    meta = catalog.model(ACTIVE)["meta"]
    assert meta == model["meta"]
    assert meta["legacyReplacementModelId"] == OTHER_ACTIVE
    assert meta["deprecationNotice"] == "Move to GPT-5."
    assert meta["sunsetDate"] == sunset
    assert started <= datetime.fromisoformat(meta["deprecatedAt"]) <= datetime.now(UTC)


def test_mark_legacy_stores_a_sunset_datetime_in_utc(catalog: Catalog) -> None:
    catalog.act_ok(
        ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": "2030-01-01T10:00:00+02:00"}
    )

    assert catalog.model(ACTIVE)["meta"]["sunsetDate"] == "2030-01-01T08:00:00+00:00"


def test_mark_legacy_reads_a_sunset_datetime_in_zulu_time_as_utc(catalog: Catalog) -> None:
    catalog.act_ok(ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": "2030-01-01T10:00Z"})

    assert catalog.model(ACTIVE)["meta"]["sunsetDate"] == "2030-01-01T10:00:00+00:00"


def test_mark_legacy_accepts_a_sunset_today(catalog: Catalog) -> None:
    today = datetime.now(UTC).date().isoformat()

    catalog.act_ok(ACTIVE, "mark_legacy", {"reason": "retire", "sunset_date": today})

    assert catalog.model(ACTIVE)["meta"]["sunsetDate"] == today


def test_unmark_legacy_clears_the_legacy_keys(catalog: Catalog) -> None:
    catalog.act_ok(
        ACTIVE,
        "mark_legacy",
        {
            "reason": "superseded",
            "replacement_model_id": OTHER_ACTIVE,
            "deprecation_notice": "Move to GPT-5.",
            "sunset_date": future(),
        },
    )

    catalog.act_ok(ACTIVE, "unmark_legacy")

    meta = catalog.model(ACTIVE)["meta"]
    assert {key: meta.get(key) for key in LEGACY_KEYS} == dict.fromkeys(LEGACY_KEYS)


def test_archive_makes_the_model_unavailable(catalog: Catalog) -> None:
    assert catalog.model(ACTIVE)["is_available"] is True

    model = catalog.act_ok(ACTIVE, "archive")

    assert model["is_available"] is False
    assert catalog.model(ACTIVE)["is_available"] is False


def test_unarchive_makes_an_available_model_available_again(catalog: Catalog) -> None:
    catalog.act_ok(ACTIVE, "archive")

    model = catalog.act_ok(ACTIVE, "unarchive")

    assert model["is_available"] is True
    assert catalog.model(ACTIVE)["is_available"] is True


def test_unarchive_keeps_a_paused_model_paused(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"is_available": False}, reason="pause")
    assert catalog.act_ok(ACTIVE, "archive")["is_available"] is False

    model = catalog.act_ok(ACTIVE, "unarchive")

    assert model["is_available"] is False
    assert catalog.model(ACTIVE)["is_available"] is False


def test_unarchive_returns_a_legacy_model_with_its_legacy_information(catalog: Catalog) -> None:
    sunset = future()
    catalog.act_ok(
        ACTIVE,
        "mark_legacy",
        {
            "reason": "superseded",
            "replacement_model_id": OTHER_ACTIVE,
            "deprecation_notice": "Move to GPT-5.",
            "sunset_date": sunset,
        },
    )
    legacy_meta = catalog.model(ACTIVE)["meta"]
    catalog.act_ok(ACTIVE, "archive")

    model = catalog.act_ok(ACTIVE, "unarchive")

    assert model["state"] == "legacy"
    assert {key: model["meta"].get(key) for key in LEGACY_KEYS} == {
        key: legacy_meta.get(key) for key in LEGACY_KEYS
    }
