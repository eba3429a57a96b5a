"""`import_plans`: plans made through the admin API, kept until applied (0010_import_plans)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, func
from sqlalchemy.orm import Mapped, mapped_column

from modelreg.db.base import Base


class ImportPlan(Base):
    __tablename__ = "import_plans"

    id: Mapped[str] = mapped_column(primary_key=True)
    source: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_by: Mapped[str]
    catalog_revision: Mapped[int] = mapped_column(BigInteger)
    plan: Mapped[dict[str, Any]]
    applied_at: Mapped[datetime | None]
    applied_by: Mapped[str | None]
