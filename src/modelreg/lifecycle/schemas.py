"""What the lifecycle actions take in (the HTTP bodies of mark-legacy, archive, ...): strict
types, as on every write (a boolean is a JSON boolean, a number a JSON number)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ArchiveRequest(Reason):
    force: StrictBool = False


class MarkLegacyRequest(Reason):
    replacement_model_id: str | None = Field(default=None, min_length=1, max_length=100)
    deprecation_notice: str | None = Field(default=None, max_length=2000)
    sunset_date: str | None = Field(
        default=None, description="ISO-8601 date or datetime, not in the past"
    )
