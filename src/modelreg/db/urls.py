"""Where the database is: `MODELREG_DATABASE_URL`, or the embedded server when it is unset."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.engine import URL, make_url

from modelreg.config import Settings, get_settings
from modelreg.db import embedded


def normalise(url: str) -> URL:
    """Accept `postgres://` and `postgresql://` URLs and pin the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"modelreg needs PostgreSQL; got a {parsed.get_backend_name()} URL")
    return parsed.set(drivername="postgresql+psycopg")


def database_url(settings: Settings | None = None) -> URL:
    """The SQLAlchemy URL to use, starting the embedded server if none is configured."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return normalise(settings.database_url.get_secret_value())
    return _embedded_url(str(settings.data_dir))


@lru_cache
def _embedded_url(data_dir: str) -> URL:
    from pathlib import Path

    return normalise(embedded.start(Path(data_dir)))


def libpq_conninfo(url: URL) -> str:
    """The same database as a libpq connection string, for plain psycopg connections."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
