"""Engines for modelreg: JSON in and out of `meta` goes through the exact Decimal codec, and
every statement is timed (modelreg_db_query_duration_seconds)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, pool
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from modelreg.db import jsonb
from modelreg.db.metrics import time_queries


def sync_engine(url: URL, **kwargs: Any) -> Engine:
    kwargs.setdefault("poolclass", pool.NullPool)
    engine = create_engine(
        url, json_serializer=jsonb.dumps, json_deserializer=jsonb.loads, **kwargs
    )
    time_queries(engine)
    return engine


def async_engine(url: URL, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(
        url, json_serializer=jsonb.dumps, json_deserializer=jsonb.loads, **kwargs
    )
    time_queries(engine)
    return engine
