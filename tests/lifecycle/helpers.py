"""Shared by the lifecycle and audit tests: the shipped catalog with one API token per role, the
app over it, and short ways to call the admin API and to read the audit tables with SQL.

The seeded database (catalog and tokens) is built once per session and cloned for every test,
so each test starts from the same fresh catalog at head.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.app import create_app
from modelreg.audit.schemas import Actor
from modelreg.auth import service as auth_service
from modelreg.auth.roles import Role
from modelreg.catalog.seed import seed_catalog
from modelreg.db import jsonb
from modelreg.db.engine import async_engine, sync_engine
from tests.pg import PgServer

# The name each role's token is created with; the audit trail names the actor `token:<name>`.
TOKEN_NAMES: Mapping[Role, str] = {
    Role.VIEWER: "ops-viewer",
    Role.EDITOR: "ops-editor",
    Role.ADMIN: "ops-admin",
}

# Shipped models this suite relies on.
ACTIVE = "o3"  # active, available, named as replacement by no one
OTHER_ACTIVE = "gpt-5"
THIRD_ACTIVE = "mistral-large"
LEGACY = "gpt-4o"  # legacy, replaced by gpt-4.1, sunset 2027-01-14
LEGACY_REPLACEMENT = "gpt-4.1"
LEGACY_SUNSET = "2027-01-14"

# The URL segment of each lifecycle action.
ACTION_PATHS: Mapping[str, str] = {
    "mark_legacy": "mark-legacy",
    "unmark_legacy": "unmark-legacy",
    "archive": "archive",
    "unarchive": "unarchive",
}


@dataclass(frozen=True)
class SeededTemplate:
    database: str
    tokens: Mapping[Role, str]


_templates: dict[int, SeededTemplate] = {}


async def _create_tokens(url: URL) -> dict[Role, str]:
    engine = async_engine(url)
    try:
        async with AsyncSession(engine) as session, session.begin():
            tokens: dict[Role, str] = {}
            for role, name in TOKEN_NAMES.items():
                _, plaintext = await auth_service.create_token(
                    session, name=name, role=role, actor=Actor(name="tests")
                )
                tokens[role] = plaintext
            return tokens
    finally:
        await engine.dispose()


def seeded_template(pg: PgServer) -> SeededTemplate:
    """A database at head with the shipped catalog and a token per role (built once per server)."""
    if id(pg) not in _templates:
        url = pg.database_at("head")
        seed_catalog(url)
        tokens = asyncio.run(_create_tokens(url))
        assert url.database is not None
        _templates[id(pg)] = SeededTemplate(database=url.database, tokens=tokens)
    return _templates[id(pg)]


@dataclass(frozen=True)
class Catalog:
    """The app over a fresh seeded database, with the tokens to call it and SQL to inspect it."""

    client: TestClient
    url: URL
    engine: Engine
    tokens: Mapping[Role, str]

    # HTTP.

    def headers(
        self,
        role: Role | None = Role.EDITOR,
        *,
        if_match: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if if_match is not None:
            headers["If-Match"] = if_match
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        return headers

    def act(
        self,
        model_id: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        *,
        role: Role | None = Role.EDITOR,
        if_match: str | None = None,
        request_id: str | None = None,
    ) -> httpx2.Response:
        """POST a lifecycle action; `body` defaults to a reason alone."""
        payload = dict(body) if body is not None else {"reason": f"test: {action}"}
        return self.client.post(
            f"/admin/v1/models/{model_id}/{ACTION_PATHS[action]}",
            json=payload,
            headers=self.headers(role, if_match=if_match, request_id=request_id),
        )

    def act_ok(self, model_id: str, action: str, body: Mapping[str, Any] | None = None) -> Any:
        response = self.act(model_id, action, body)
        assert response.status_code == 200, response.text
        return response.json()

    def patch(
        self,
        model_id: str,
        patch: Mapping[str, Any],
        *,
        role: Role | None = Role.EDITOR,
        reason: str | None = None,
        if_match: str | None = None,
        request_id: str | None = None,
    ) -> httpx2.Response:
        return self.client.patch(
            f"/admin/v1/models/{model_id}",
            content=jsonb.dumps(dict(patch)),
            params={"reason": reason} if reason is not None else None,
            headers={
                **self.headers(role, if_match=if_match, request_id=request_id),
                "Content-Type": "application/merge-patch+json",
            },
        )

    def patch_ok(self, model_id: str, patch: Mapping[str, Any], reason: str | None = None) -> Any:
        response = self.patch(model_id, patch, reason=reason)
        assert response.status_code == 200, response.text
        return response.json()

    def create(
        self,
        body: Mapping[str, Any],
        *,
        role: Role | None = Role.EDITOR,
        request_id: str | None = None,
    ) -> httpx2.Response:
        return self.client.post(
            "/admin/v1/models",
            content=jsonb.dumps(dict(body)),
            headers={
                **self.headers(role, request_id=request_id),
                "Content-Type": "application/json",
            },
        )

    def revert(
        self,
        model_id: str,
        to_version: int,
        *,
        reason: str = "test: revert",
        role: Role | None = Role.ADMIN,
        if_match: str | None = None,
    ) -> httpx2.Response:
        return self.client.post(
            f"/admin/v1/models/{model_id}/revert",
            json={"to_version": to_version, "reason": reason},
            headers=self.headers(role, if_match=if_match),
        )

    def model(self, model_id: str) -> Any:
        """The admin view of a model."""
        response = self.client.get(f"/admin/v1/models/{model_id}", headers=self.headers())
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, role: Role | None = Role.VIEWER, **params: Any) -> httpx2.Response:
        return self.client.get(path, params=params or None, headers=self.headers(role))

    # SQL.

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def revision(self) -> int:
        return int(self.scalar("SELECT revision FROM catalog_state"))

    def recorded(self) -> tuple[int, int]:
        """(audit events, history versions) in the database."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM audit_events),"
                    " (SELECT count(*) FROM model_versions)"
                )
            ).one()
        return int(row[0]), int(row[1])

    def trail(self) -> tuple[int, int, int]:
        """(audit events, history versions, catalog revision): what every change moves."""
        return (*self.recorded(), self.revision())

    def events(self, model_id: str) -> list[dict[str, Any]]:
        """The audit events of a model, oldest first, as stored."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM audit_events WHERE model_id = :id ORDER BY id"),
                {"id": model_id},
            ).mappings()
            return [dict(row) for row in rows]

    def versions(self, model_id: str) -> list[dict[str, Any]]:
        """The history versions of a model, oldest first, as stored."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM model_versions WHERE model_id = :id ORDER BY version"),
                {"id": model_id},
            ).mappings()
            return [dict(row) for row in rows]


class Clones:
    """Fresh copies of the seeded template, made ahead (and dropped after use) by a background
    thread, so that a test does not wait for CREATE DATABASE."""

    def __init__(self, pg: PgServer, ahead: int = 3):
        self.pg = pg
        self.template = seeded_template(pg)
        self._ready: queue.Queue[URL | BaseException] = queue.Queue(maxsize=ahead)
        self._used: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="test-clones", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            item: URL | BaseException
            try:
                self._drop_used()
                item = self.pg.create_database(template=self.template.database)
            except BaseException as exc:  # handed to the test that asks next
                item = exc
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def _drop_used(self) -> None:
        while True:
            try:
                name = self._used.get_nowait()
            except queue.Empty:
                return
            self.pg.drop_database(name)

    def take(self) -> URL:
        item = self._ready.get(timeout=60)
        if isinstance(item, BaseException):
            raise item
        return item

    def done(self, url: URL) -> None:
        assert url.database is not None
        self._used.put(url.database)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


_clones: dict[int, Clones] = {}


def clones_for(pg: PgServer) -> Clones:
    """The one clone maker of this server (shared by the lifecycle and audit tests)."""
    if id(pg) not in _clones:
        _clones[id(pg)] = Clones(pg)
    return _clones[id(pg)]


def close_clones(pg: PgServer) -> None:
    clones = _clones.pop(id(pg), None)
    if clones is not None:
        clones.close()


def open_catalog(clones: Clones, point: Callable[[URL], None]) -> Iterator[Catalog]:
    """A fresh copy of the seeded catalog, the app pointed at it (`point` = use_database)."""
    url = clones.take()
    point(url)
    engine = sync_engine(url)
    try:
        with TestClient(create_app()) as client:
            yield Catalog(client=client, url=url, engine=engine, tokens=clones.template.tokens)
    finally:
        engine.dispose()
        clones.done(url)


def problem(response: httpx2.Response, status: int, code: str) -> Any:
    """The problem document of a refused request, checked for its status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


def error_paths(body: Mapping[str, Any]) -> list[str]:
    return [str(error["path"]) for error in body.get("errors", [])]
