"""The audit trail and version history: one event and one version per committed change, written
in the change's transaction; history and revert over HTTP; the audit log and its filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from modelreg.auth.roles import Role
from tests.fixtures.catalog import ACTIVE, LEGACY, LEGACY_REPLACEMENT, OTHER_ACTIVE, Catalog
from tests.fixtures.databases import TOKEN_NAMES
from tests.fixtures.http import problem

NEW_MODEL = "acme-large"
SHIPPED_MODELS = 24
# The fixture's catalog is seeded, then its three tokens (viewer, editor, admin) are created:
# token changes are audited too.
TOKENS_CREATED = 3
EVENTS_AT_START = SHIPPED_MODELS + TOKENS_CREATED


def new_model(model_id: str = NEW_MODEL) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": "Acme Large",
        "provider": "acme",
        "reason": "new provider",
        "meta": {
            "displayName": "Acme Large",
            "capabilities": ["text"],
            "contextLength": 128000,
            "inputCostUsdPerMillionTokens": 1,
            "outputCostUsdPerMillionTokens": 3,
            "requiredTier": "free",
            "tierRestrictionMode": "minimum",
            "allowedTiers": [],
        },
    }


def ok(response: httpx2.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def data(response: httpx2.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


# Every kind of change, ready to apply to a fresh catalog.


@dataclass(frozen=True)
class Change:
    action: str
    model_id: str
    apply: Callable[[Catalog], httpx2.Response]
    prepare: Callable[[Catalog], object] = lambda catalog: None


CHANGES = [
    Change("create", NEW_MODEL, lambda c: c.create(new_model())),
    Change(
        "update",
        ACTIVE,
        lambda c: c.patch(ACTIVE, {"meta": {"displayName": "o3 (2025)"}}, reason="rename"),
    ),
    Change("mark_legacy", ACTIVE, lambda c: c.act(ACTIVE, "mark_legacy")),
    Change("unmark_legacy", LEGACY, lambda c: c.act(LEGACY, "unmark_legacy")),
    Change("archive", ACTIVE, lambda c: c.act(ACTIVE, "archive")),
    Change(
        "unarchive",
        ACTIVE,
        lambda c: c.act(ACTIVE, "unarchive"),
        prepare=lambda c: c.act_ok(ACTIVE, "archive"),
    ),
    Change(
        "revert",
        ACTIVE,
        lambda c: c.revert(ACTIVE, 1),
        prepare=lambda c: c.patch_ok(ACTIVE, {"meta": {"displayName": "o3 (2025)"}}),
    ),
]


# Refused writes, each after its own preparation.


@dataclass(frozen=True)
class Refusal:
    name: str
    model_id: str
    status: int
    code: str
    apply: Callable[[Catalog], httpx2.Response]
    prepare: Callable[[Catalog], object] = lambda catalog: None


REFUSALS = [
    Refusal(
        "invalid-patch",
        ACTIVE,
        422,
        "validation_error",
        lambda c: c.patch(ACTIVE, {"meta": {"displayName": "x", "contextLength": -1}}),
    ),
    Refusal(
        "sunset-in-the-past",
        ACTIVE,
        422,
        "validation_error",
        lambda c: c.act(ACTIVE, "mark_legacy", {"reason": "r", "sunset_date": "2020-01-01"}),
    ),
    Refusal(
        "unknown-replacement",
        ACTIVE,
        422,
        "replacement_invalid",
        lambda c: c.act(ACTIVE, "mark_legacy", {"reason": "r", "replacement_model_id": "nope"}),
    ),
    Refusal(
        "invalid-transition",
        ACTIVE,
        409,
        "invalid_transition",
        lambda c: c.act(ACTIVE, "unarchive"),
    ),
    Refusal(
        "replacement-in-use",
        LEGACY_REPLACEMENT,
        409,
        "replacement_in_use",
        lambda c: c.act(LEGACY_REPLACEMENT, "archive"),
    ),
    Refusal("model-exists", ACTIVE, 409, "model_exists", lambda c: c.create(new_model(ACTIVE))),
    Refusal(
        "stale-if-match-on-patch",
        ACTIVE,
        412,
        "version_conflict",
        lambda c: c.patch(ACTIVE, {"meta": {"displayName": "late"}}, if_match='"1"'),
        prepare=lambda c: c.patch_ok(ACTIVE, {"meta": {"displayName": "first"}}),
    ),
    Refusal(
        "stale-if-match-on-lifecycle",
        ACTIVE,
        412,
        "version_conflict",
        lambda c: c.act(ACTIVE, "archive", if_match='"1"'),
        prepare=lambda c: c.patch_ok(ACTIVE, {"meta": {"displayName": "first"}}),
    ),
    Refusal(
        "revert-to-a-missing-version",
        ACTIVE,
        404,
        "not_found",
        lambda c: c.revert(ACTIVE, 99),
    ),
]


# Unauthorised and invalid requests.


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/v1/models/{ACTIVE}/history",
        f"/admin/v1/models/{ACTIVE}/history/1",
        "/admin/v1/audit",
    ],
)
def test_history_and_audit_need_a_token(catalog: Catalog, path: str) -> None:
    problem(catalog.get(path, role=None), 401, "unauthorized")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_revert_needs_the_admin_role(catalog: Catalog, role: Role) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.revert(ACTIVE, 1, role=role)

    problem(response, 403, "forbidden")
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_revert_with_a_stale_if_match_is_a_version_conflict(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    response = catalog.revert(ACTIVE, 1, if_match='"1"')

    body = problem(response, 412, "version_conflict")
    assert body["expected_version"] == 1
    assert body["current_version"] == 2
    assert catalog.model(ACTIVE) == before
    assert catalog.trail() == trail


def test_history_of_an_unknown_model_is_not_found(catalog: Catalog) -> None:
    problem(catalog.get("/admin/v1/models/no-such-model/history"), 404, "not_found")


def test_history_version_that_does_not_exist_is_not_found(catalog: Catalog) -> None:
    problem(catalog.get(f"/admin/v1/models/{ACTIVE}/history/2"), 404, "not_found")


@pytest.mark.parametrize("limit", [0, 501])
def test_audit_log_limit_out_of_range_is_refused(catalog: Catalog, limit: int) -> None:
    problem(catalog.get("/admin/v1/audit", limit=limit), 422, "validation_error")


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
def test_refused_write_records_nothing(catalog: Catalog, refusal: Refusal) -> None:
    refusal.prepare(catalog)
    before = catalog.model(refusal.model_id)
    trail = catalog.trail()

    response = refusal.apply(catalog)

    problem(response, refusal.status, refusal.code)
    assert catalog.trail() == trail
    assert catalog.model(refusal.model_id) == before


# One event and one version per change, in its transaction.


@pytest.mark.parametrize("change", CHANGES, ids=[c.action for c in CHANGES])
def test_change_records_one_event_and_one_version_in_its_transaction(
    catalog: Catalog, change: Change
) -> None:
    change.prepare(catalog)
    events, versions, revision = catalog.trail()
    previous = catalog.versions(change.model_id)

    model = ok(change.apply(catalog))

    assert catalog.trail() == (events + 1, versions + 1, revision + 1)
    event = catalog.events(change.model_id)[-1]
    version = catalog.versions(change.model_id)[-1]
    assert model["version"] == len(previous) + 1
    assert event["action"] == version["action"] == change.action
    assert event["model_version"] == version["version"] == model["version"]
    assert event["catalog_revision"] == revision + 1
    assert version["audit_event_id"] == event["id"]
    assert event["after"] == version["state"]
    assert event["diff"] == version["diff"]
    # now() is the transaction's start: equal stamps mean one transaction wrote them all.
    changed_at = catalog.scalar("SELECT changed_at FROM catalog_state")
    assert event["occurred_at"] == version["created_at"] == changed_at


def test_versions_are_numbered_from_one_without_gaps(catalog: Catalog) -> None:
    ok(catalog.create(new_model()))
    catalog.patch_ok(NEW_MODEL, {"meta": {"displayName": "Acme L"}})
    catalog.act_ok(NEW_MODEL, "mark_legacy")
    catalog.act_ok(NEW_MODEL, "archive")
    catalog.act_ok(NEW_MODEL, "unarchive")
    catalog.act_ok(NEW_MODEL, "unmark_legacy")
    ok(catalog.revert(NEW_MODEL, 2))

    history = data(catalog.get(f"/admin/v1/models/{NEW_MODEL}/history"))

    assert [v["version"] for v in history] == [1, 2, 3, 4, 5, 6, 7]
    assert [v["action"] for v in history] == [
        "create",
        "update",
        "mark_legacy",
        "archive",
        "unarchive",
        "unmark_legacy",
        "revert",
    ]
    assert [e["model_version"] for e in catalog.events(NEW_MODEL)] == [1, 2, 3, 4, 5, 6, 7]


def test_catalog_revision_goes_up_by_one_per_committed_change(catalog: Catalog) -> None:
    start = catalog.revision()

    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "one"}})
    problem(catalog.act(ACTIVE, "unarchive"), 409, "invalid_transition")
    catalog.act_ok(ACTIVE, "mark_legacy")
    problem(catalog.patch(ACTIVE, {"meta": {"contextLength": 0}}), 422, "validation_error")
    catalog.act_ok(OTHER_ACTIVE, "archive")

    assert catalog.revision() == start + 3
    assert [e["catalog_revision"] for e in catalog.events(ACTIVE)[-2:]] == [start + 1, start + 2]
    assert catalog.events(OTHER_ACTIVE)[-1]["catalog_revision"] == start + 3


def test_patch_that_changes_nothing_records_nothing(catalog: Catalog) -> None:
    before = catalog.model(ACTIVE)
    trail = catalog.trail()

    model = catalog.patch_ok(ACTIVE, {"meta": {"displayName": before["meta"]["displayName"]}})

    assert model["version"] == before["version"]
    assert catalog.trail() == trail


# What an event says.


def test_diff_names_only_the_changed_field_with_before_and_after(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "o3 (2025)"}})

    expected = [{"path": "meta.displayName", "before": "o3", "after": "o3 (2025)"}]
    assert catalog.events(ACTIVE)[-1]["diff"] == expected
    assert catalog.versions(ACTIVE)[-1]["diff"] == expected


def test_diff_of_an_archive_names_the_lifecycle_fields(catalog: Catalog) -> None:
    catalog.act_ok(ACTIVE, "archive")

    assert catalog.events(ACTIVE)[-1]["diff"] == [
        {"path": "available_before_archive", "before": None, "after": True},
        {"path": "is_archived", "before": False, "after": True},
        {"path": "is_available", "before": True, "after": False},
    ]


def test_event_keeps_the_state_before_and_after(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "o3 (2025)"}})

    event = catalog.events(ACTIVE)[-1]

    assert event["before"]["meta"]["displayName"] == "o3"
    assert event["after"]["meta"]["displayName"] == "o3 (2025)"
    assert event["after"] == catalog.versions(ACTIVE)[-1]["state"]


def test_actor_is_the_token_name(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    ok(catalog.revert(ACTIVE, 1))

    events = catalog.events(ACTIVE)[-2:]
    versions = catalog.versions(ACTIVE)[-2:]
    editor, admin = f"token:{TOKEN_NAMES[Role.EDITOR]}", f"token:{TOKEN_NAMES[Role.ADMIN]}"
    assert [e["actor"] for e in events] == [editor, admin]
    assert [v["actor"] for v in versions] == [editor, admin]


def test_reason_is_recorded(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}}, reason="typo in the name")
    catalog.act_ok(ACTIVE, "archive", {"reason": "no longer offered"})

    events = catalog.events(ACTIVE)[-2:]
    versions = catalog.versions(ACTIVE)[-2:]
    assert [e["reason"] for e in events] == ["typo in the name", "no longer offered"]
    assert [v["reason"] for v in versions] == ["typo in the name", "no longer offered"]


def test_client_request_id_is_stored(catalog: Catalog) -> None:
    response = catalog.patch(
        ACTIVE, {"meta": {"displayName": "renamed"}}, request_id="req-2f9c1e7a"
    )

    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "req-2f9c1e7a"
    assert catalog.events(ACTIVE)[-1]["request_id"] == "req-2f9c1e7a"


def test_request_without_an_id_stores_the_one_it_was_given(catalog: Catalog) -> None:
    response = catalog.act(ACTIVE, "archive")

    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"]
    assert catalog.events(ACTIVE)[-1]["request_id"] == response.headers["X-Request-ID"]


# History over HTTP.


def test_history_lists_every_version_oldest_first(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}}, reason="rename")

    history = data(catalog.get(f"/admin/v1/models/{ACTIVE}/history"))

    assert [v["version"] for v in history] == [1, 2]
    assert [v["action"] for v in history] == ["seed", "update"]
    assert [v["actor"] for v in history] == ["seed", f"token:{TOKEN_NAMES[Role.EDITOR]}"]
    assert history[1]["reason"] == "rename"
    assert {"path": "meta.displayName", "before": "o3", "after": "renamed"} in history[1]["diff"]
    assert history[1]["state"]["meta"]["displayName"] == "renamed"


def test_history_version_is_the_state_of_that_version(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})

    first = catalog.get(f"/admin/v1/models/{ACTIVE}/history/1")
    second = catalog.get(f"/admin/v1/models/{ACTIVE}/history/2")

    assert first.status_code == second.status_code == 200
    assert first.json()["version"] == 1
    assert first.json()["state"]["meta"]["displayName"] == "o3"
    assert second.json()["version"] == 2
    assert second.json()["state"]["meta"]["displayName"] == "renamed"


# Revert.


def test_revert_restores_that_version_as_a_new_version(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    catalog.patch_ok(ACTIVE, {"is_available": False, "meta": {"contextLength": 100000}})
    catalog.act_ok(ACTIVE, "mark_legacy")
    history_before = catalog.versions(ACTIVE)

    model = ok(catalog.revert(ACTIVE, 2, reason="undo the pause"))

    assert model["version"] == 5
    versions = catalog.versions(ACTIVE)
    assert versions[:4] == history_before
    assert versions[4]["action"] == "revert"
    assert versions[4]["state"] == versions[1]["state"]
    assert model["state"] == "active"
    assert model["is_available"] is True
    assert model["meta"]["displayName"] == "renamed"
    assert model["meta"]["contextLength"] == 200000
    assert catalog.events(ACTIVE)[-1]["reason"].startswith("undo the pause")


def test_revert_restores_the_lifecycle_state(catalog: Catalog) -> None:
    catalog.act_ok(ACTIVE, "archive")

    model = ok(catalog.revert(ACTIVE, 1))

    assert model["state"] == "active"
    assert model["is_available"] is True


# Append-only tables.


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET reason = 'rewritten'",
        "DELETE FROM audit_events",
        "UPDATE model_versions SET reason = 'rewritten'",
        "DELETE FROM model_versions",
        "TRUNCATE model_versions",
        "TRUNCATE audit_events CASCADE",
    ],
)
def test_audit_tables_are_append_only(catalog: Catalog, statement: str) -> None:
    recorded = catalog.recorded()
    events = catalog.events(ACTIVE)

    with pytest.raises(DBAPIError, match="append-only"), catalog.engine.begin() as conn:
        conn.execute(text(statement))

    assert catalog.recorded() == recorded
    assert catalog.events(ACTIVE) == events


# The audit log.


def test_audit_log_filters_by_model(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    catalog.patch_ok(OTHER_ACTIVE, {"meta": {"displayName": "renamed"}})

    events = data(catalog.get("/admin/v1/audit", model=ACTIVE))

    assert [(e["model_id"], e["action"]) for e in events] == [(ACTIVE, "seed"), (ACTIVE, "update")]


def test_audit_log_filters_by_actor(catalog: Catalog) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "renamed"}})
    ok(catalog.revert(ACTIVE, 1))
    admin = f"token:{TOKEN_NAMES[Role.ADMIN]}"

    events = data(catalog.get("/admin/v1/audit", actor=admin))

    assert [(e["actor"], e["model_id"], e["action"]) for e in events] == [(admin, ACTIVE, "revert")]


def test_audit_log_filters_by_action(catalog: Catalog) -> None:
    catalog.act_ok(ACTIVE, "archive")
    catalog.act_ok(OTHER_ACTIVE, "mark_legacy")
    catalog.act_ok(LEGACY, "archive")

    events = data(catalog.get("/admin/v1/audit", action="archive"))

    assert [e["model_id"] for e in events] == [ACTIVE, LEGACY]


def test_audit_log_filters_by_time_since_inclusive_until_exclusive(catalog: Catalog) -> None:
    for name in ("one", "two", "three"):
        catalog.patch_ok(ACTIVE, {"meta": {"displayName": name}})
    one, two, three = data(catalog.get("/admin/v1/audit", model=ACTIVE, action="update"))

    window = data(
        catalog.get("/admin/v1/audit", since=one["occurred_at"], until=three["occurred_at"])
    )
    since = data(catalog.get("/admin/v1/audit", since=two["occurred_at"]))
    until = data(catalog.get("/admin/v1/audit", until=one["occurred_at"]))

    assert [e["id"] for e in window] == [one["id"], two["id"]]
    assert [e["id"] for e in since] == [two["id"], three["id"]]
    assert len(until) == EVENTS_AT_START
    assert {e["action"] for e in until} == {"seed", "token_create"}


def test_audit_log_pages_with_after_and_limit(catalog: Catalog) -> None:
    everything = data(catalog.get("/admin/v1/audit"))
    assert len(everything) == EVENTS_AT_START

    pages: list[Any] = []
    after: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 10}
        if after is not None:
            params["after"] = after
        response = catalog.get("/admin/v1/audit", **params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        if not page["has_more"]:
            break
        after = page["next_after"]

    assert [len(p["data"]) for p in pages] == [10, 10, 7]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert [p["next_after"] for p in pages] == [
        pages[0]["data"][-1]["id"],
        pages[1]["data"][-1]["id"],
        None,
    ]
    assert [e["id"] for p in pages for e in p["data"]] == [e["id"] for e in everything]
