"""The PostgreSQL server the tests run against, and throw-away databases on it.

`MODELREG_TEST_DATABASE_URL` set: that server (the database in the URL is only used to connect;
each test gets databases of its own). Unset: an embedded server in a temporary directory.
Databases at a given revision are cloned from a template migrated once per session.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from modelreg.db import embedded, migrate
from modelreg.db.urls import libpq_conninfo, normalise

PREFIX = f"modelreg_test_{os.getpid()}"


class PgServer:
    def __init__(self, admin_url: URL):
        self.admin_url = admin_url
        self._names = itertools.count()
        self._templates: dict[str, str] = {}
        self.created: list[str] = []

    @classmethod
    def from_environment(cls, scratch: Path) -> PgServer:
        configured = os.environ.get("MODELREG_TEST_DATABASE_URL")
        if configured:
            return cls(normalise(configured))
        return cls(normalise(embedded.start(scratch, database="postgres")))

    def url(self, database: str) -> URL:
        return self.admin_url.set(database=database)

    def _admin(self, sql: str) -> None:
        with psycopg.connect(libpq_conninfo(self.admin_url), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str | None = None) -> URL:
        name = f"{PREFIX}_{next(self._names)}"
        clause = f' TEMPLATE "{template}"' if template else " TEMPLATE template0"
        self._admin(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_at(self, revision: str | None) -> URL:
        """A new database migrated to `revision` (None: empty)."""
        if revision is None:
            return self.create_database()
        if revision not in self._templates:
            template = self.create_database()
            migrate.upgrade(template, revision)
            assert template.database is not None
            self._templates[revision] = template.database
        return self.create_database(template=self._templates[revision])

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.drop_database(name)
        self.created.clear()
