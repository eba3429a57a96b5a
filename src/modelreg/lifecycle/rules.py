"""The rules on legacy information, over plain data: the replacement chain never loops and a
sunset date is not in the past."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from modelreg.exceptions import ValidationFailed
from modelreg.lifecycle.exceptions import ReplacementInvalid


def check_chain(graph: Mapping[str, str], model_id: str, replacement_id: str) -> None:
    """`model_id -> replacement_id` added to `graph` (model -> the replacement it names) must
    not make a loop."""
    if replacement_id == model_id:
        raise ReplacementInvalid(
            f"model {model_id!r} cannot be its own replacement", [model_id, model_id]
        )
    edges = dict(graph)
    edges[model_id] = replacement_id
    chain = [model_id]
    current = replacement_id
    while current in edges and current not in chain:
        chain.append(current)
        current = edges[current]
    if current in chain:
        chain.append(current)
        raise ReplacementInvalid(
            f"replacement {replacement_id!r} would make a loop: {' -> '.join(chain)}", chain
        )


def check_sunset(value: Any) -> None:
    """Not in the past (a date may be today). `value` is the stored ISO string."""
    if value is None:
        return
    text = str(value)
    now = datetime.now(UTC)
    if len(text) == 10:
        past = date.fromisoformat(text) < now.date()
    else:
        past = datetime.fromisoformat(text) < now
    if past:
        raise ValidationFailed(
            [{"path": "meta.sunsetDate", "message": f"{text} is in the past"}],
        )
