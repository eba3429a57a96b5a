"""Who did a change, and how audit rows look on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Actor:
    """The author of a change as recorded in the audit trail."""

    name: str
    request_id: str | None = None


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    model_id: str | None
    model_version: int | None
    catalog_revision: int | None
    reason: str | None
    request_id: str | None
    diff: list[dict[str, Any]]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ModelVersionOut(BaseModel):
    model_id: str
    version: int
    created_at: datetime
    actor: str
    action: str
    reason: str | None
    diff: list[dict[str, Any]]
    state: dict[str, Any]
