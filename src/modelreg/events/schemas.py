"""What the webhook API and CLI take in and give out."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelreg.events.models import WebhookAttempt, WebhookSubscription
from modelreg.events.types import EventType

SECRET_PREFIX = "whsec_"


def check_secret(value: str) -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes."""
    if not value.startswith(SECRET_PREFIX):
        raise ValueError("a secret has the form whsec_<base64 of 24 to 64 bytes>")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise ValueError("the part after whsec_ must be base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("the key must be 24 to 64 bytes long")
    return value


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[EventType] = Field(min_length=1)
    secret: str | None = Field(default=None, max_length=200)
    active: bool = True

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, value: str | None) -> str | None:
        return None if value is None else check_secret(value)


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    # true also clears a failing state (delivery resumes from the message that failed).
    active: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    active: bool
    status: str = Field(description="active | retrying | failing | paused")
    cursor_revision: int
    attempts: int
    next_attempt_at: datetime | None
    retrying_since: datetime | None
    failing_since: datetime | None
    last_error: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown in this answer only.")


class AttemptOut(BaseModel):
    id: int
    message_id: str
    event_type: str
    catalog_revision: int
    attempted_at: datetime
    status: str
    response_code: int | None
    latency_ms: float
    error: str | None


def status_of(subscription: WebhookSubscription) -> str:
    if subscription.failing_since is not None:
        return "failing"
    if not subscription.is_active:
        return "paused"
    return "retrying" if subscription.attempts else "active"


def subscription_view(subscription: WebhookSubscription) -> dict[str, Any]:
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        events=[str(e) for e in subscription.event_types],
        active=subscription.is_active,
        status=status_of(subscription),
        cursor_revision=subscription.cursor_revision,
        attempts=subscription.attempts,
        next_attempt_at=subscription.next_attempt_at,
        retrying_since=subscription.retrying_since,
        failing_since=subscription.failing_since,
        last_error=subscription.last_error,
        created_at=subscription.created_at,
        created_by=subscription.created_by,
        updated_at=subscription.updated_at,
    ).model_dump(mode="json")


def attempt_view(attempt: WebhookAttempt) -> dict[str, Any]:
    return AttemptOut.model_validate(attempt, from_attributes=True).model_dump(mode="json")
