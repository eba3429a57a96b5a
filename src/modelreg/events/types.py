"""Event types, and the events an audit event stands for (its action, actor and diff).

One audit event can stand for more than one event: a patch that changes a price is a
`model.updated` and a `model.price_changed`; the sunset scheduler's archive is a
`model.archived` and a `model.sunset`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

SUNSET_ACTOR = "system:sunset"
SUNSET_APPROACHING_ACTION = "sunset_approaching"

# The meta keys that make a change a price change.
PRICE_KEYS = frozenset(
    {
        "inputCostUsdPerMillionTokens",
        "outputCostUsdPerMillionTokens",
        "creditsPer1kTokens",
        "inputCreditsPer1kTokens",
        "outputCreditsPer1kTokens",
    }
)


class EventType(StrEnum):
    MODEL_CREATED = "model.created"
    MODEL_UPDATED = "model.updated"
    MODEL_PRICE_CHANGED = "model.price_changed"
    MODEL_MARKED_LEGACY = "model.marked_legacy"
    MODEL_UNMARKED_LEGACY = "model.unmarked_legacy"
    MODEL_ARCHIVED = "model.archived"
    MODEL_UNARCHIVED = "model.unarchived"
    MODEL_SUNSET_APPROACHING = "model.sunset_approaching"
    MODEL_SUNSET = "model.sunset"
    CATALOG_IMPORTED = "catalog.imported"


_BY_ACTION: Mapping[str, EventType] = {
    "create": EventType.MODEL_CREATED,
    "update": EventType.MODEL_UPDATED,
    "revert": EventType.MODEL_UPDATED,
    "mark_legacy": EventType.MODEL_MARKED_LEGACY,
    "unmark_legacy": EventType.MODEL_UNMARKED_LEGACY,
    "archive": EventType.MODEL_ARCHIVED,
    "unarchive": EventType.MODEL_UNARCHIVED,
    SUNSET_APPROACHING_ACTION: EventType.MODEL_SUNSET_APPROACHING,
    "seed": EventType.CATALOG_IMPORTED,
    "import": EventType.CATALOG_IMPORTED,
}


@dataclass(frozen=True)
class RecordedChange:
    """What the outbox needs of an audit event."""

    catalog_revision: int
    occurred_at: datetime
    actor: str
    action: str
    model_id: str | None
    model_version: int | None
    after: Mapping[str, Any] | None
    diff: Sequence[Mapping[str, Any]]
    reason: str | None


def changes_price(diff: Sequence[Mapping[str, Any]]) -> bool:
    for change in diff:
        path = str(change.get("path", ""))
        if path == "meta" or (path.startswith("meta.") and path[5:] in PRICE_KEYS):
            return True
    return False


def event_types_of(change: RecordedChange) -> list[EventType]:
    """The events an audit event stands for, in the order they are sent (none for a change
    that is not the catalog's, such as a token's)."""
    base = _BY_ACTION.get(change.action)
    if base is None:
        return []
    types = [base]
    if base is EventType.MODEL_ARCHIVED and change.actor == SUNSET_ACTOR:
        types.append(EventType.MODEL_SUNSET)
    if base is EventType.MODEL_UPDATED and changes_price(change.diff):
        types.append(EventType.MODEL_PRICE_CHANGED)
    return types


def message_id(revision: int, event_type: EventType) -> str:
    """The `webhook-id` of one event: the same on every retry and replay (consumers dedupe)."""
    return f"msg_{revision}_{event_type.value.replace('.', '_')}"


def payload(change: RecordedChange, event_type: EventType) -> dict[str, Any]:
    """The body of one event (Standard Webhooks' `type`, `timestamp`, `data`)."""
    model: dict[str, Any] | None = None
    if change.model_id is not None and change.after is not None:
        model = {"id": change.model_id, **dict(change.after)}
        if change.model_version is not None:
            model["version"] = change.model_version
    return {
        "type": event_type.value,
        "timestamp": change.occurred_at.isoformat(),
        "data": {
            "modelId": change.model_id,
            "model": model,
            "diff": [dict(c) for c in change.diff],
            "reason": change.reason,
            "actor": change.actor,
            "catalogRevision": change.catalog_revision,
            "occurredAt": change.occurred_at.isoformat(),
        },
    }
