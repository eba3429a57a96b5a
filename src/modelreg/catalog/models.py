"""The catalog's tables: `models` (as after 0007_admin) and the one-row `catalog_state`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class Model(Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(100))
    is_available: Mapped[bool] = mapped_column(default=True)
    is_legacy: Mapped[bool] = mapped_column(default=False)
    is_archived: Mapped[bool] = mapped_column(default=False)
    available_before_archive: Mapped[bool | None] = mapped_column(default=None)
    meta: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CatalogState(Base):
    """One row: the catalog revision, bumped in the transaction of every change."""

    __tablename__ = "catalog_state"

    singleton: Mapped[bool] = mapped_column(primary_key=True, default=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
