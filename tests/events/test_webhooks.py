"""Webhooks end to end: subscriptions over the admin API, signed deliveries to a real receiver,
order and exactly-once per webhook-id through a receiver outage, two instances, retries, the
failing state and replay."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelreg.app import create_app
from modelreg.auth.roles import Role
from tests.events.receiver import Receiver, wait_for
from tests.fixtures.catalog import ACTIVE, LEGACY, Catalog
from tests.fixtures.http import problem

ALL_EVENTS = [
    "model.created",
    "model.updated",
    "model.price_changed",
    "model.marked_legacy",
    "model.unmarked_legacy",
    "model.archived",
    "model.unarchived",
    "model.sunset_approaching",
    "model.sunset",
    "catalog.imported",
]


def subscribe(catalog: Catalog, receiver: Receiver, events: list[str] | None = None) -> Any:
    response = catalog.client.post(
        "/admin/v1/webhooks",
        json={"url": receiver.url, "events": events or ALL_EVENTS},
        headers=catalog.headers(Role.ADMIN),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    receiver.secret = body["secret"]
    return body


def webhook(catalog: Catalog, webhook_id: str) -> Any:
    response = catalog.client.get(
        f"/admin/v1/webhooks/{webhook_id}", headers=catalog.headers(Role.ADMIN)
    )
    assert response.status_code == 200, response.text
    return response.json()


def attempts(catalog: Catalog, webhook_id: str) -> list[Any]:
    response = catalog.client.get(
        f"/admin/v1/webhooks/{webhook_id}/attempts",
        params={"limit": 500},
        headers=catalog.headers(Role.ADMIN),
    )
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


def price_patch(catalog: Catalog, n: int) -> None:
    catalog.patch_ok(ACTIVE, {"meta": {"inputCostUsdPerMillionTokens": 1000 + n}}, reason=f"p{n}")


def test_webhooks_need_the_admin_role(catalog: Catalog, receiver: Receiver) -> None:
    body = {"url": receiver.url, "events": ["model.created"]}
    no_token = catalog.client.post("/admin/v1/webhooks", json=body)
    problem(no_token, 401, "unauthorized")
    editor = catalog.client.post("/admin/v1/webhooks", json=body, headers=catalog.headers())
    problem(editor, 403, "forbidden")
    viewer = catalog.client.get("/admin/v1/webhooks", headers=catalog.headers(Role.VIEWER))
    problem(viewer, 403, "forbidden")


def test_an_unknown_event_type_or_a_malformed_secret_is_refused(
    catalog: Catalog, receiver: Receiver
) -> None:
    admin = catalog.headers(Role.ADMIN)
    unknown = catalog.client.post(
        "/admin/v1/webhooks", json={"url": receiver.url, "events": ["model.eaten"]}, headers=admin
    )
    problem(unknown, 422, "validation_error")
    bad_secret = catalog.client.post(
        "/admin/v1/webhooks",
        json={"url": receiver.url, "events": ["model.created"], "secret": "hunter2"},
        headers=admin,
    )
    problem(bad_secret, 422, "validation_error")
    not_http = catalog.client.post(
        "/admin/v1/webhooks",
        json={"url": "file:///etc/passwd", "events": ["model.created"]},
        headers=admin,
    )
    problem(not_http, 422, "target_refused")


def test_the_secret_is_shown_at_creation_only(catalog: Catalog, receiver: Receiver) -> None:
    created = subscribe(catalog, receiver, ["model.created"])
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    shown = webhook(catalog, created["id"])
    listed = catalog.client.get("/admin/v1/webhooks", headers=catalog.headers(Role.ADMIN))
    assert "secret" not in shown
    assert [w["id"] for w in listed.json()["data"]] == [created["id"]]
    assert all("secret" not in w for w in listed.json()["data"])
    given = catalog.client.post(
        "/admin/v1/webhooks",
        json={"url": receiver.url, "events": ["model.created"], "secret": created["secret"]},
        headers=catalog.headers(Role.ADMIN),
    )
    assert given.status_code == 201, given.text
    assert given.json()["secret"] == created["secret"]


def test_changes_arrive_signed_in_order_with_state_diff_reason_and_revision(
    catalog: Catalog, receiver: Receiver
) -> None:
    subscribe(catalog, receiver)
    start = catalog.revision()
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "O three"}}, reason="rename")
    price_patch(catalog, 1)
    catalog.act_ok(ACTIVE, "mark_legacy", {"reason": "old", "replacement_model_id": "gpt-5"})
    catalog.act_ok(ACTIVE, "unmark_legacy")
    catalog.act_ok(ACTIVE, "archive")
    catalog.act_ok(ACTIVE, "unarchive")
    expected = [
        "model.updated",
        "model.updated",
        "model.price_changed",
        "model.marked_legacy",
        "model.unmarked_legacy",
        "model.archived",
        "model.unarchived",
    ]
    wait_for(lambda: len(receiver.received) >= len(expected), what="every event")
    assert receiver.types() == expected
    assert receiver.bad_signatures == []
    first = receiver.received[0].body
    assert first["data"]["modelId"] == ACTIVE
    assert first["data"]["model"]["meta"]["displayName"] == "O three"
    assert first["data"]["reason"] == "rename"
    assert first["data"]["catalogRevision"] == start + 1
    [rename] = first["data"]["diff"]
    assert (rename["path"], rename["after"]) == ("meta.displayName", "O three")
    price = receiver.received[2].body
    assert price["data"]["diff"][0]["path"].startswith("meta.")
    revisions = [r.body["data"]["catalogRevision"] for r in receiver.received]
    assert revisions == sorted(revisions)
    assert len(set(receiver.ids())) == len(expected)


def test_only_the_subscribed_types_are_sent(catalog: Catalog, receiver: Receiver) -> None:
    subscribe(catalog, receiver, ["model.price_changed"])
    catalog.patch_ok(ACTIVE, {"meta": {"displayName": "not a price"}})
    price_patch(catalog, 2)
    catalog.act_ok(LEGACY, "archive", {"reason": "x", "force": True})
    price_patch(catalog, 3)
    wait_for(lambda: len(receiver.received) >= 2, what="two price changes")
    wait_for(
        lambda: webhook(catalog, receiver_id(catalog))["cursor_revision"] == catalog.revision()
    )
    assert receiver.types() == ["model.price_changed", "model.price_changed"]


def receiver_id(catalog: Catalog) -> str:
    listed = catalog.client.get("/admin/v1/webhooks", headers=catalog.headers(Role.ADMIN))
    return str(listed.json()["data"][0]["id"])


def test_a_receiver_outage_loses_nothing_and_repeats_nothing(
    catalog: Catalog, receiver: Receiver
) -> None:
    sub = subscribe(catalog, receiver, ["model.price_changed"])
    for n in range(3):
        price_patch(catalog, n)
    wait_for(lambda: len(receiver.received) >= 2, what="the first deliveries")
    receiver.stop()
    for n in range(3, 9):
        price_patch(catalog, n)
    wait_for(
        lambda: any(a["status"] == "failed" for a in attempts(catalog, sub["id"])),
        what="a failed attempt while the receiver is down",
    )
    assert webhook(catalog, sub["id"])["status"] == "retrying"
    receiver.start()
    wait_for(lambda: len(receiver.received) >= 9, what="every event after the outage")
    revisions = [r.body["data"]["catalogRevision"] for r in receiver.received]
    assert revisions == sorted(revisions)
    assert len(set(receiver.ids())) == len(receiver.ids()) == 9
    assert receiver.bad_signatures == []
    failed = [a for a in attempts(catalog, sub["id"]) if a["status"] == "failed"]
    assert failed
    assert all(a["response_code"] is None and a["error"] for a in failed)
    delivered = [a for a in attempts(catalog, sub["id"]) if a["status"] == "delivered"]
    assert len(delivered) == 9
    assert all(a["response_code"] == 200 and a["latency_ms"] >= 0 for a in delivered)
    wait_for(lambda: webhook(catalog, sub["id"])["status"] == "active")


def test_two_instances_never_deliver_one_event_twice(catalog: Catalog, receiver: Receiver) -> None:
    sub = subscribe(catalog, receiver, ["model.price_changed"])
    with TestClient(create_app()) as second:
        for n in range(10):
            # Writes through both instances: both wake and race for the subscription.
            client = catalog.client if n % 2 else second
            response = client.patch(
                f"/admin/v1/models/{ACTIVE}",
                json={"meta": {"inputCostUsdPerMillionTokens": 100 + n}},
                headers={
                    **catalog.headers(),
                    "Content-Type": "application/merge-patch+json",
                },
            )
            assert response.status_code == 200, response.text
        wait_for(lambda: len(receiver.received) >= 10, what="ten events")
        wait_for(
            lambda: webhook(catalog, sub["id"])["cursor_revision"] == catalog.revision(),
            what="both instances idle",
        )
    assert receiver.overlaps == []
    assert len(receiver.ids()) == len(set(receiver.ids())) == 10
    prices = [
        r.body["data"]["model"]["meta"]["inputCostUsdPerMillionTokens"] for r in receiver.received
    ]
    assert prices == [100 + n for n in range(10)]


@pytest.mark.parametrize("catalog", [{"MODELREG_WEBHOOKS__RETRY_WINDOW_S": "0"}], indirect=True)
def test_a_subscription_failing_past_the_retry_window_is_marked_failing(
    catalog: Catalog, receiver: Receiver
) -> None:
    sub = subscribe(catalog, receiver, ["model.price_changed"])
    receiver.status = 500
    price_patch(catalog, 1)
    wait_for(lambda: webhook(catalog, sub["id"])["status"] == "failing", what="failing")
    shown = webhook(catalog, sub["id"])
    assert shown["failing_since"] is not None
    assert shown["last_error"] == "HTTP 500"
    assert attempts(catalog, sub["id"])[0]["response_code"] == 500
    metrics = catalog.client.get("/metrics").text
    wait_for(
        lambda: "modelreg_webhook_subscriptions_failing 1.0" in catalog.client.get("/metrics").text,
        what="the failing gauge",
    )
    assert "modelreg_webhook_deliveries_total" in metrics
    # Setting it active again resumes delivery from the message that failed.
    receiver.status = 200
    resumed = catalog.client.patch(
        f"/admin/v1/webhooks/{sub['id']}",
        json={"active": True},
        headers=catalog.headers(Role.ADMIN),
    )
    assert resumed.status_code == 200, resumed.text
    wait_for(lambda: len(receiver.received) == 1, what="the resumed delivery")
    assert (
        receiver.received[0].body["data"]["model"]["meta"]["inputCostUsdPerMillionTokens"] == 1001
    )


def test_replay_sends_the_events_again_from_a_revision(
    catalog: Catalog, receiver: Receiver
) -> None:
    sub = subscribe(catalog, receiver, ["model.price_changed"])
    for n in range(3):
        price_patch(catalog, n)
    wait_for(lambda: len(receiver.received) == 3, what="three events")
    second = receiver.received[1].body["data"]["catalogRevision"]
    response = catalog.client.post(
        f"/admin/v1/webhooks/{sub['id']}/replay",
        params={"since": second},
        headers=catalog.headers(Role.ADMIN),
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: len(receiver.received) == 5, what="the replayed events")
    assert receiver.ids()[3:] == receiver.ids()[1:3]


def test_paused_and_deleted_subscriptions_receive_nothing(
    catalog: Catalog, receiver: Receiver
) -> None:
    admin = catalog.headers(Role.ADMIN)
    sub = subscribe(catalog, receiver, ["model.price_changed"])
    paused = catalog.client.patch(
        f"/admin/v1/webhooks/{sub['id']}", json={"active": False}, headers=admin
    )
    assert paused.json()["status"] == "paused"
    price_patch(catalog, 1)
    other = subscribe(catalog, Receiver(), ["model.price_changed"])  # a sentinel, never served
    assert (
        catalog.client.delete(f"/admin/v1/webhooks/{other['id']}", headers=admin).status_code == 204
    )
    resumed = catalog.client.patch(
        f"/admin/v1/webhooks/{sub['id']}", json={"active": True}, headers=admin
    )
    assert resumed.status_code == 200
    # Paused, it kept its place: resumed, it delivers what happened meanwhile.
    wait_for(lambda: len(receiver.received) == 1, what="the event held while paused")
    gone = catalog.client.get(f"/admin/v1/webhooks/{other['id']}", headers=admin)
    problem(gone, 404, "not_found")
