"""The test PostgreSQL server, under the name older tests import it by."""

from tests.fixtures.databases import PgServer

__all__ = ["PgServer"]
