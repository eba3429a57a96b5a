"""The catalog's tables: `models` (as after 0007_admin; its indexes are built by 0004_indexes
from `modelreg.db.indexes` and checked by `db verify`) and `model_prices`, every model's price
history with its scheduled changes (0012_price_schedule)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Numeric, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class Model(Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(100))
    is_available: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    is_legacy: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    is_archived: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    available_before_archive: Mapped[bool | None] = mapped_column(default=None)
    meta: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ModelPrice(Base):
    """One entry of a model's price history: the prices and credits in force from
    `effective_from`, who recorded them and when. `scheduled`: recorded ahead of its time;
    `applied_at`: when the scheduler wrote it to the model's meta (or found it superseded);
    a cancelled entry never takes effect."""

    __tablename__ = "model_prices"
    __table_args__ = (Index("idx_model_prices_model", "model_id", "effective_from"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    model_id: Mapped[str] = mapped_column(Text, ForeignKey("models.id", ondelete="CASCADE"))
    effective_from: Mapped[datetime]
    input_usd: Mapped[Decimal] = mapped_column(Numeric)
    output_usd: Mapped[Decimal] = mapped_column(Numeric)
    credits_per_1k: Mapped[Decimal] = mapped_column(Numeric)
    input_credits_per_1k: Mapped[Decimal] = mapped_column(Numeric)
    output_credits_per_1k: Mapped[Decimal] = mapped_column(Numeric)
    credits_pinned: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    scheduled: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    applied_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None]
    recorded_by: Mapped[str]
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    reason: Mapped[str | None]
    audit_event_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("audit_events.id"))
