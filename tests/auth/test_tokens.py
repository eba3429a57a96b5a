"""`modelreg token create | list | revoke`: the secret is shown once and never stored."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner, Result

from modelreg.app import create_app
from modelreg.cli.main import app
from tests.fixtures.http import PROBLEM_JSON, bearer, media_type

TOKEN = re.compile(r"mr_(?P<id>[a-z0-9]+)_(?P<secret>[A-Za-z0-9_-]+)")
runner = CliRunner()


def _modelreg(*args: str) -> Result:
    # A wide terminal, so that tables are not cut to fit.
    return runner.invoke(app, list(args), env={"COLUMNS": "300"})


def _create(*extra: str) -> tuple[str, str, str]:
    """Create a token (`--name ci --role editor --quiet`); (plaintext, id, secret)."""
    result = _modelreg("token", "create", "--name", "ci", "--role", "editor", "--quiet", *extra)
    assert result.exit_code == 0, result.output
    match = TOKEN.fullmatch(result.stdout.strip())
    assert match is not None, result.stdout
    return match.group(0), match.group("id"), match.group("secret")


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(text(sql), params)]


@pytest.fixture
def engine(
    head_url: URL, use_database: Callable[[URL], None], engine_for: Callable[[URL], Engine]
) -> Engine:
    use_database(head_url)
    return engine_for(head_url)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


# Refused.


@pytest.mark.parametrize("role", ["superuser", "", "ADMIN "])
def test_create_with_an_invalid_role_is_refused_and_stores_nothing(
    engine: Engine, role: str
) -> None:
    result = _modelreg("token", "create", "--name", "ci", "--role", role)

    assert result.exit_code != 0
    assert TOKEN.search(result.stdout) is None
    assert _rows(engine, "SELECT id FROM api_tokens") == []
    assert _rows(engine, "SELECT id FROM audit_events WHERE action = 'token_create'") == []


def test_create_with_a_blank_name_is_refused_and_stores_nothing(engine: Engine) -> None:
    result = _modelreg("token", "create", "--name", "  ", "--role", "viewer")

    assert result.exit_code != 0
    assert _rows(engine, "SELECT id FROM api_tokens") == []


def test_revoking_an_unknown_token_fails(engine: Engine) -> None:
    result = _modelreg("token", "revoke", "nosuchtoken0")

    assert result.exit_code == 1
    assert "not_found" in result.stderr
    assert _rows(engine, "SELECT id FROM audit_events WHERE action = 'token_revoke'") == []


def test_revoked_token_is_unauthorized(client: TestClient) -> None:
    token, token_id, _ = _create()
    assert client.get("/admin/v1/models", headers=bearer(token)).status_code == 200

    result = _modelreg("token", "revoke", token_id)

    assert result.exit_code == 0, result.output
    response = client.get("/admin/v1/models", headers=bearer(token))
    assert response.status_code == 401
    assert media_type(response) == PROBLEM_JSON
    assert response.json()["code"] == "unauthorized"


# Created.


def test_create_quiet_prints_the_token_alone_on_stdout(engine: Engine) -> None:
    result = _modelreg("token", "create", "--name", "ci", "--role", "editor", "--quiet")

    assert result.exit_code == 0, result.output
    assert TOKEN.fullmatch(result.stdout.rstrip("\n")) is not None, result.stdout
    assert result.stdout.count("\n") == 1


def test_created_token_works_with_its_role(client: TestClient) -> None:
    token, _, _ = _create()

    assert client.get("/admin/v1/models", headers=bearer(token)).status_code == 200
    response = client.post(
        "/admin/v1/models/gpt-5/revert",
        headers=bearer(token),
        json={"reason": "an editor may not revert", "to_version": 1},
    )
    assert response.status_code == 403


def test_only_a_sha256_of_the_secret_is_stored(engine: Engine) -> None:
    token, token_id, secret = _create()

    rows = _rows(engine, "SELECT id, name, role, secret_hash FROM api_tokens")
    everything = _rows(engine, "SELECT t::text AS row FROM api_tokens t")

    assert rows == [
        {
            "id": token_id,
            "name": "ci",
            "role": "editor",
            "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
        }
    ]
    assert [r for r in everything if secret in r["row"] or token in r["row"]] == []


def test_the_secret_appears_in_no_audit_event(engine: Engine) -> None:
    _, token_id, secret = _create()

    events = _rows(engine, "SELECT e::text AS row FROM audit_events e")

    assert any(token_id in e["row"] for e in events)
    assert [e for e in events if secret in e["row"]] == []


def test_list_shows_the_token_without_its_secret(engine: Engine) -> None:
    _, token_id, secret = _create()

    result = _modelreg("token", "list")

    assert result.exit_code == 0, result.output
    line = next((ln for ln in result.stdout.splitlines() if token_id in ln), None)
    assert line is not None, result.stdout
    assert "ci" in line
    assert "editor" in line
    assert secret not in result.output


def test_create_and_revoke_are_audited(engine: Engine) -> None:
    _, token_id, _ = _create()
    assert _modelreg("token", "revoke", token_id).exit_code == 0

    events = _rows(
        engine,
        "SELECT action, actor, after->>'token_id' AS token_id FROM audit_events"
        " WHERE action IN ('token_create', 'token_revoke') ORDER BY id",
    )

    assert [(e["action"], e["token_id"]) for e in events] == [
        ("token_create", token_id),
        ("token_revoke", token_id),
    ]
    assert all(str(e["actor"]).startswith("cli:") for e in events)


def test_revoked_token_is_listed_as_revoked(engine: Engine) -> None:
    _, token_id, _ = _create()
    assert _modelreg("token", "revoke", token_id).exit_code == 0

    revoked = _rows(engine, "SELECT revoked_at FROM api_tokens WHERE id = :id", id=token_id)
    result = _modelreg("token", "list")

    assert revoked[0]["revoked_at"] is not None
    line = next(ln for ln in result.stdout.splitlines() if token_id in ln)
    assert revoked[0]["revoked_at"].isoformat(timespec="seconds") in line
