"""`modelreg webhook ...` against a database at head."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import URL
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from modelreg.cli.main import app
from modelreg.config import get_settings


def test_webhook_create_list_pause_replay_and_delete(
    head_url: URL, use_database: Callable[[URL], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database(head_url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    refused = runner.invoke(
        app, ["webhook", "create", "--url", "http://127.0.0.1:9/h", "-e", "model.created"]
    )
    assert refused.exit_code == 1
    assert "target_refused" in refused.output
    monkeypatch.setenv("MODELREG_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()
    created = runner.invoke(
        app, ["webhook", "create", "--url", "http://127.0.0.1:9/h", "-e", "model.created"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a valid Standard Webhooks secret
    listed = runner.invoke(app, ["webhook", "list"])
    webhook_id = next(w for w in listed.output.split() if w.startswith("wh_"))
    assert "model.created" in listed.output
    assert secret not in listed.output
    paused = runner.invoke(app, ["webhook", "update", webhook_id, "--paused"])
    assert "paused" in paused.output
    replayed = runner.invoke(app, ["webhook", "replay", webhook_id, "--since", "1"])
    assert replayed.exit_code == 0, replayed.output
    assert runner.invoke(app, ["webhook", "delete", webhook_id]).exit_code == 0
    missing = runner.invoke(app, ["webhook", "delete", webhook_id])
    assert missing.exit_code == 1
    assert "not_found" in missing.output
