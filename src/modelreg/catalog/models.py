"""The catalog's table: `models` (as after 0007_admin). Its indexes are built by 0004_indexes
from `modelreg.db.indexes` and checked by `db verify`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, func, text
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
