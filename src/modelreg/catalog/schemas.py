"""What the catalog's HTTP API and CLI take in and give out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from modelreg.catalog.credit_fill import fill_credits
from modelreg.catalog.meta import ModelMeta
from modelreg.catalog.models import Model
from modelreg.lifecycle.schemas import Reason
from modelreg.lifecycle.states import state_of

MODEL_ID_PATTERN = r"^[a-z0-9][a-z0-9._:-]*$"
# Top-level fields a JSON Merge Patch may touch; lifecycle has its own actions.
PATCHABLE = frozenset({"name", "provider", "is_available", "meta"})


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=MODEL_ID_PATTERN)
    name: str = Field(min_length=1, max_length=255)
    provider: str = Field(min_length=1, max_length=100)
    is_available: StrictBool = True
    meta: ModelMeta
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("meta", mode="before")
    @classmethod
    def _credits_from_prices(cls, value: Any) -> Any:
        """Credits not given are computed from the prices (given ones are pinned), before the
        whole meta is validated, so every bad field is reported in one answer."""
        if not isinstance(value, dict):
            return value
        return fill_credits(value, touched=list(value), previous=None)


class RevertRequest(Reason):
    to_version: StrictInt = Field(ge=1, le=2**63 - 1)


def etag(model: Model) -> str:
    return f'"{model.version}"'


def admin_view(model: Model) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "is_available": model.is_available,
        "state": state_of(model).value,
        "version": model.version,
        "created_at": model.created_at.isoformat(),
        "updated_at": model.updated_at.isoformat(),
        "meta": model.meta,
    }


class AdminModelOut(BaseModel):
    """The admin view of a model (documentation of the response shape)."""

    id: str
    name: str
    provider: str
    is_available: bool
    state: str
    version: int
    created_at: datetime
    updated_at: datetime
    meta: dict[str, Any]
