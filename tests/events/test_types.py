"""Which events an audit event stands for, the SSRF guard, and the retry delays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from modelreg.config import WebhookSettings
from modelreg.events.delivery import retry_delay
from modelreg.events.exceptions import TargetRefused
from modelreg.events.targets import check_target
from modelreg.events.types import EventType, RecordedChange, event_types_of, message_id, payload


def change(action: str, actor: str = "token:ops", diff: list[dict[str, Any]] | None = None) -> Any:
    return RecordedChange(
        catalog_revision=7,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        actor=actor,
        action=action,
        model_id="m",
        model_version=2,
        after={"meta": {}},
        diff=diff or [],
        reason="why",
    )


@pytest.mark.parametrize(
    ("action", "actor", "diff", "expected"),
    [
        ("create", "token:a", [], ["model.created"]),
        ("update", "token:a", [{"path": "meta.displayName"}], ["model.updated"]),
        (
            "update",
            "token:a",
            [{"path": "meta.outputCostUsdPerMillionTokens"}],
            ["model.updated", "model.price_changed"],
        ),
        (
            "revert",
            "token:a",
            [{"path": "meta.creditsPer1kTokens"}],
            ["model.updated", "model.price_changed"],
        ),
        ("mark_legacy", "token:a", [], ["model.marked_legacy"]),
        ("unmark_legacy", "token:a", [], ["model.unmarked_legacy"]),
        ("archive", "token:a", [], ["model.archived"]),
        ("archive", "system:sunset", [], ["model.archived", "model.sunset"]),
        ("unarchive", "token:a", [], ["model.unarchived"]),
        ("sunset_approaching", "system:sunset", [], ["model.sunset_approaching"]),
        ("seed", "seed", [], ["catalog.imported"]),
        ("token_create", "cli:root", [], []),
        ("webhook_create", "cli:root", [], []),
    ],
)
def test_event_types_of_an_audit_event(
    action: str, actor: str, diff: list[dict[str, Any]], expected: list[str]
) -> None:
    assert [t.value for t in event_types_of(change(action, actor, diff))] == expected


def test_a_payload_carries_state_diff_reason_revision_and_time() -> None:
    body = payload(change("update", diff=[{"path": "meta.x", "after": 1}]), EventType.MODEL_UPDATED)
    assert body["type"] == "model.updated"
    assert body["data"]["model"] == {"id": "m", "meta": {}, "version": 2}
    assert body["data"]["diff"] == [{"path": "meta.x", "after": 1}]
    assert (body["data"]["reason"], body["data"]["catalogRevision"]) == ("why", 7)
    assert body["timestamp"] == "2026-12-01T00:00:00+00:00"
    assert message_id(7, EventType.MODEL_PRICE_CHANGED) == "msg_7_model_price_changed"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        asyncio.run(check_target(url, allow_private=False))
    asyncio.run(check_target(url, allow_private=True))


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://user:pw@example.com/", "http:///x"])
def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(TargetRefused):
        asyncio.run(check_target(url, allow_private=True))


def test_a_public_address_is_accepted() -> None:
    asyncio.run(check_target("https://93.184.215.14/hook", allow_private=False))


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_maximum() -> None:
    settings = WebhookSettings(retry_base_s=1, retry_max_delay_s=60)
    assert [retry_delay(n, settings, lambda: 1.0) for n in (1, 2, 3, 7, 30)] == [1, 2, 4, 60, 60]
    assert [retry_delay(n, settings, lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1, 2]
