"""Engines for modelreg: JSON in and out of `meta` goes through the exact Decimal codec."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, pool
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from modelreg.db import jsonb


def sync_engine(url: URL, **kwargs: Any) -> Engine:
    kwargs.setdefault("poolclass", pool.NullPool)
    return create_engine(url, json_serializer=jsonb.dumps, json_deserializer=jsonb.loads, **kwargs)


def async_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    return create_async_engine(
        url, json_serializer=jsonb.dumps, json_deserializer=jsonb.loads, **kwargs
    )
