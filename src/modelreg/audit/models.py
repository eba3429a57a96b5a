"""`audit_events` and `model_versions` (append-only: the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, func
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str]
    action: Mapped[str]
    model_id: Mapped[str | None]
    model_version: Mapped[int | None] = mapped_column(BigInteger)
    catalog_revision: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    diff: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    reason: Mapped[str | None]
    request_id: Mapped[str | None]


class ModelVersion(Base):
    __tablename__ = "model_versions"

    model_id: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str]
    action: Mapped[str]
    reason: Mapped[str | None]
    state: Mapped[dict[str, Any]]
    diff: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    audit_event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_events.id"))
