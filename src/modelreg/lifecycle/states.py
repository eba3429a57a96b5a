"""Lifecycle states, the actions between them, and which action may start from which state.

    active --mark_legacy--> legacy --unmark_legacy--> active
    active | legacy --archive--> archived --unarchive--> legacy (if it was) | active

An archived model keeps its legacy information, which is how unarchive knows where to return.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class LifecycleState(StrEnum):
    ACTIVE = "active"
    LEGACY = "legacy"
    ARCHIVED = "archived"


class LifecycleAction(StrEnum):
    MARK_LEGACY = "mark_legacy"
    UNMARK_LEGACY = "unmark_legacy"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"


# The one table: for each action, the states it may start from.
ALLOWED_FROM: dict[LifecycleAction, frozenset[LifecycleState]] = {
    LifecycleAction.MARK_LEGACY: frozenset({LifecycleState.ACTIVE}),
    LifecycleAction.UNMARK_LEGACY: frozenset({LifecycleState.LEGACY}),
    LifecycleAction.ARCHIVE: frozenset({LifecycleState.ACTIVE, LifecycleState.LEGACY}),
    LifecycleAction.UNARCHIVE: frozenset({LifecycleState.ARCHIVED}),
}


class HasLifecycleFlags(Protocol):
    """Anything with the two stored flags: an ORM model or a plain result row."""

    @property
    def is_legacy(self) -> bool: ...
    @property
    def is_archived(self) -> bool: ...


def state_of(model: HasLifecycleFlags) -> LifecycleState:
    """The one place the state is computed from the two stored flags."""
    if model.is_archived:
        return LifecycleState.ARCHIVED
    return LifecycleState.LEGACY if model.is_legacy else LifecycleState.ACTIVE


def target_of(action: LifecycleAction, model: HasLifecycleFlags) -> LifecycleState:
    """Where `action` takes `model` (unarchive returns to legacy if the model was legacy)."""
    match action:
        case LifecycleAction.MARK_LEGACY:
            return LifecycleState.LEGACY
        case LifecycleAction.UNMARK_LEGACY:
            return LifecycleState.ACTIVE
        case LifecycleAction.ARCHIVE:
            return LifecycleState.ARCHIVED
        case LifecycleAction.UNARCHIVE:
            return LifecycleState.LEGACY if model.is_legacy else LifecycleState.ACTIVE
