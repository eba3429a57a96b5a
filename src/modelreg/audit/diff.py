"""Field-level differences between two states of a model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_MISSING = object()


def field_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """`[{"path": "meta.displayName", "before": ..., "after": ...}]`, sorted by path.

    Objects are compared key by key (a missing key reads as absent, not as null); lists and
    scalars are compared whole.
    """
    changes: list[dict[str, Any]] = []
    _walk("", before if before is not None else {}, after if after is not None else {}, changes)
    return sorted(changes, key=lambda c: str(c["path"]))


def _walk(prefix: str, before: Any, after: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before.keys() | after.keys():
            path = f"{prefix}.{key}" if prefix else str(key)
            _walk(path, before.get(key, _MISSING), after.get(key, _MISSING), out)
        return
    if before is _MISSING and after is _MISSING:
        return
    if before is _MISSING or after is _MISSING or before != after or _kind(before) != _kind(after):
        change: dict[str, Any] = {"path": prefix}
        if before is not _MISSING:
            change["before"] = before
        if after is not _MISSING:
            change["after"] = after
        out.append(change)


def _kind(value: Any) -> str:
    """Numbers compare by value (2 and Decimal("2.0") are the same price); True is not 1."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):  # an enum member is its string
        return "str"
    return type(value).__name__
