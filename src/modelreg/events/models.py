"""`webhook_subscriptions` (each with its cursor in the audit log), `webhook_attempts` and
`sunset_notices`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(primary_key=True)
    url: Mapped[str]
    event_types: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    secret: Mapped[str]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # The last revision fully delivered, and how many messages of the next one were.
    cursor_revision: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    cursor_part: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Failed attempts at the message after the cursor, and when to try it again.
    attempts: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    retrying_since: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    last_error: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_by: Mapped[str]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("idx_webhook_attempts_subscription", "subscription_id", "id"),
        CheckConstraint("status IN ('delivered', 'failed')", name="webhook_attempts_status_check"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    message_id: Mapped[str]
    event_type: Mapped[str]
    catalog_revision: Mapped[int] = mapped_column(BigInteger)
    attempted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    status: Mapped[str]
    response_code: Mapped[int | None] = mapped_column(BigInteger)
    latency_ms: Mapped[float]
    error: Mapped[str | None]


class SunsetNotice(Base):
    """A `model.sunset_approaching` notice sent for one lead time of one sunset date."""

    __tablename__ = "sunset_notices"

    model_id: Mapped[str] = mapped_column(primary_key=True)
    sunset_date: Mapped[str] = mapped_column(primary_key=True)
    lead_days: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(server_default=func.now())
