"""A model's full state as one JSON-able dict: what history stores and audit diffs compare."""

from __future__ import annotations

import copy
from typing import Any

from modelreg.catalog.models import Model

# The row fields a version restores (everything but id, version and timestamps).
STATE_FIELDS = (
    "name",
    "provider",
    "is_available",
    "is_legacy",
    "is_archived",
    "available_before_archive",
    "meta",
)


def model_state(model: Model) -> dict[str, Any]:
    return {field: copy.deepcopy(getattr(model, field)) for field in STATE_FIELDS}


def apply_state(model: Model, state: dict[str, Any]) -> None:
    for field in STATE_FIELDS:
        setattr(model, field, copy.deepcopy(state[field]))
