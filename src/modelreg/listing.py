"""The list parameters shared by the public list and the admin list: filters, sort, and the
opaque `after` cursors of keyset pagination."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from modelreg.exceptions import ValidationFailed
from modelreg.lifecycle.states import LifecycleState

MAX_LIMIT = 500


class SortKey(StrEnum):
    ID = "id"
    CREDITS = "credits"
    CONTEXT_LENGTH = "context_length"
    CREATED = "created"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class CapabilityMatch(StrEnum):
    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class ListParams:
    provider: str | None = None
    capabilities: tuple[str, ...] = ()
    capability_match: CapabilityMatch = CapabilityMatch.ALL
    tier: str | None = None
    max_credits_per_1k: Decimal | None = None
    states: tuple[LifecycleState, ...] = ()
    include_legacy: bool = True
    include_archived: bool = False
    include_unavailable: bool = False
    q: str | None = None
    sort: SortKey = SortKey.ID
    order: SortOrder = SortOrder.ASC
    limit: int | None = None
    after: str | None = None

    def wanted_states(self) -> frozenset[LifecycleState]:
        if self.states:
            return frozenset(self.states)
        wanted = {LifecycleState.ACTIVE}
        if self.include_legacy:
            wanted.add(LifecycleState.LEGACY)
        if self.include_archived:
            wanted.add(LifecycleState.ARCHIVED)
        return frozenset(wanted)


# Keyset values beyond what PostgreSQL's bigint and our numbers can hold are not cursors of ours.
MAX_CURSOR_NUMBER = 2**63 - 1
MAX_CURSOR_ID = 255


def check_tier(tier: str, tiers: Sequence[str]) -> str:
    if tier not in tiers:
        raise ValidationFailed(
            [{"path": "tier", "message": f"unknown tier; known: {', '.join(tiers)}"}]
        )
    return tier


def check_states(states: Sequence[str]) -> tuple[LifecycleState, ...]:
    """States named in text (the CLI's options), as the enum."""
    known = [state.value for state in LifecycleState]
    bad = [s for s in states if s not in known]
    if bad:
        raise ValidationFailed(
            [{"path": "state", "message": f"unknown state {bad}; use {', '.join(known)}"}]
        )
    return tuple(LifecycleState(s) for s in states)


def sort_value(key: SortKey, *, credits: Any, context_length: int, created: Any) -> Any:
    """The value a list is sorted by, as a cursor records it (an id sort needs none)."""
    match key:
        case SortKey.ID:
            return ""
        case SortKey.CREDITS:
            return credits
        case SortKey.CONTEXT_LENGTH:
            return context_length
        case SortKey.CREATED:
            return created


def pack_cursor(key: SortKey, value: Any, model_id: str) -> str:
    """An opaque `after` cursor: the sort it belongs to, the sort value and the id of the last
    item of a page."""
    raw = json.dumps([key.value, str(value), model_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _canonical(value: Any) -> str:
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def unpack_cursor(
    cursor: str, key: SortKey, *, created: Callable[[str], Any] = int
) -> tuple[Any, str]:
    """(sort value, id) of a cursor made by pack_cursor for the same sort; `created` parses
    the creation time (an epoch for the public list, a timestamp for the admin one).

    Only a cursor exactly as pack_cursor writes it is taken: the same sort, values of the types
    it writes, in their canonical spelling (the cursor is packed again and must come out the
    same), so anything else, however well-formed, is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, list) or len(data) != 3:
            raise ValueError("not a cursor")
        sort, value, model_id = data
        if (
            sort != key.value
            or not isinstance(value, str)
            or not isinstance(model_id, str)
            or not 0 < len(model_id) <= MAX_CURSOR_ID
            or pack_cursor(key, value, model_id) != cursor
        ):
            raise ValueError("not a cursor of this sort")
        parsed: Any
        match key:
            case SortKey.ID:
                if value != "":
                    raise ValueError("an id sort has no value")
                return "", model_id
            case SortKey.CREDITS:
                parsed = Decimal(value)
                if not parsed.is_finite() or abs(parsed) > MAX_CURSOR_NUMBER:
                    raise ValueError("out of range")
            case SortKey.CONTEXT_LENGTH:
                parsed = int(value)
                if abs(parsed) > MAX_CURSOR_NUMBER:
                    raise ValueError("out of range")
            case SortKey.CREATED:
                parsed = created(value)
        if _canonical(parsed) != value:
            raise ValueError("not in the form this service writes")
        return parsed, model_id
    except (ValueError, TypeError, InvalidOperation, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationFailed(
        [{"path": "after", "message": "not a cursor from this list (with this sort)"}]
    )
