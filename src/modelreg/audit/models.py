"""The change log: `audit_events` and `model_versions` (append-only: the database refuses UPDATE
and DELETE) and the one-row `catalog_state` whose revision every recorded change bumps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, func, text
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("idx_audit_events_model", "model_id", "id"),
        Index("idx_audit_events_occurred_at", "occurred_at"),
        Index("idx_audit_events_catalog_revision", "catalog_revision"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str]
    action: Mapped[str]
    model_id: Mapped[str | None]
    model_version: Mapped[int | None] = mapped_column(BigInteger)
    catalog_revision: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    diff: Mapped[list[dict[str, Any]]] = mapped_column(default=list, server_default=text("'[]'"))
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
    diff: Mapped[list[dict[str, Any]]] = mapped_column(default=list, server_default=text("'[]'"))
    audit_event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("audit_events.id"))


class CatalogState(Base):
    """One row: the catalog revision, bumped in the transaction of every change."""

    __tablename__ = "catalog_state"

    singleton: Mapped[bool] = mapped_column(
        primary_key=True, default=True, server_default=text("true")
    )
    revision: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
