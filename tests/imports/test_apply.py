"""`modelreg import apply PLAN.json`: exactly the plan, in one transaction, through the catalog's
services and record_change; refused (nothing changed) when stale or too large."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.config import get_settings
from tests.imports.helpers import DATA, events, ids, invoke, model, plan_json, revision

LITELLM = str(DATA / "litellm.json")
REASON = "weekly price sync"


def _plan_file(runner: CliRunner, tmp_path: Path, source: str = "litellm", *args: str) -> str:
    out = tmp_path / "plan.json"
    result = invoke(runner, "import", "plan", "--source", source, *args, "--out", str(out))
    assert result.exit_code == 2, (result.output, result.stderr)
    return str(out)


def _apply(runner: CliRunner, plan: str, *args: str, exit_code: int = 0) -> str:
    result = invoke(runner, "import", "apply", plan, "--reason", REASON, *args)
    assert result.exit_code == exit_code, (result.output, result.stderr, result.exception)
    return result.stdout + result.stderr


def test_a_file_that_is_not_a_plan_is_refused(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"add": []}))
    assert "not an import plan" in _apply(runner, str(path), exit_code=1)


def test_a_large_price_change_needs_allow_large_changes(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    plan = _plan_file(runner, tmp_path, "litellm", "--file", LITELLM)
    before = revision(engine)
    output = _apply(runner, plan, exit_code=1)
    assert "large_changes" in output
    assert "gpt-4.1" in output
    assert "gpt-5-mini" not in output  # +20 % is within the threshold
    assert revision(engine) == before
    assert model(engine, "acme-chat-1") is None


def test_apply_makes_every_change_audited_as_the_import(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    plan = _plan_file(runner, tmp_path, "litellm", "--file", LITELLM)
    output = _apply(runner, plan, "--allow-large-changes")
    assert "2 add, 3 change, 2 deprecate, 0 vanished" in output

    added = model(engine, "acme-chat-1")
    assert added is not None
    assert added["is_available"] is False
    assert added["provider"] == "acme"
    assert added["meta"]["importSource"] == {"source": "litellm", "key": "acme-chat-1"}
    assert added["meta"]["creditsPinned"] is False  # computed from the prices

    mini = model(engine, "gpt-5-mini")
    assert mini is not None
    assert mini["meta"]["inputCostUsdPerMillionTokens"] == Decimal("0.3")
    assert mini["meta"]["creditsPer1kTokens"] == Decimal("1.15")  # recomputed: (0.3 + 2) / 2
    assert mini["version"] == 2

    o3 = model(engine, "o3")
    assert o3 is not None
    assert o3["is_legacy"] is True
    assert o3["meta"]["sunsetDate"] == "2027-03-01"
    o4 = model(engine, "o4-mini")
    assert o4 is not None
    assert (o4["is_legacy"], o4["meta"]["sunsetDate"]) == (True, None)

    recorded = [e for e in events(engine) if e["actor"] == "import:litellm"]
    assert {e["model_id"] for e in recorded if e["model_id"]} == {
        "acme-chat-1",
        "acme-free",
        "gpt-5-mini",
        "gpt-4.1",
        "claude-sonnet-4-5",
        "o3",
        "o4-mini",
    }
    assert {e["reason"] for e in recorded} == {REASON}
    [summary] = events(engine, "catalog.imported")
    assert summary["after"]["change"] == 3

    # applied: the same list now plans nothing
    plan_json(runner, "litellm", "--file", LITELLM, exit_code=0)


def test_a_stale_plan_changes_nothing_and_names_the_models(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    plan = _plan_file(runner, tmp_path, "litellm", "--file", LITELLM)
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"meta": {"description": "edited"}}))
    edit = invoke(runner, "model", "patch", "gpt-5-mini", "--file", str(patch), "-r", "edit")
    assert edit.exit_code == 0, (edit.output, edit.stderr)
    before = revision(engine)
    output = _apply(runner, plan, "--allow-large-changes", exit_code=1)
    assert "stale" in output
    assert "gpt-5-mini" in output
    assert "gpt-4.1" not in output
    assert revision(engine) == before
    assert model(engine, "acme-chat-1") is None


def test_a_plan_adding_a_model_created_since_is_stale(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    plan = _plan_file(runner, tmp_path, "litellm", "--file", LITELLM, "--provider", "acme")
    _apply(runner, plan)
    assert "acme-chat-1" in _apply(runner, plan, exit_code=1)


def test_vanished_models_are_proposed_legacy_never_archived(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    engine = engine_for(seeded_url)
    _apply(runner, _plan_file(runner, tmp_path, "litellm", "--file", LITELLM, "--provider", "acme"))
    shorter = json.loads(Path(LITELLM).read_text())
    del shorter["acme-chat-1"]
    listed = tmp_path / "shorter.json"
    listed.write_text(json.dumps(shorter))
    plan = plan_json(runner, "litellm", "--file", str(listed), "--provider", "acme")
    assert ids(plan, "vanished") == {"acme-chat-1"}
    assert plan["add"] == plan["change"] == []
    out = tmp_path / "vanished.json"
    out.write_text(json.dumps(plan))
    _apply(runner, str(out))
    gone = model(engine, "acme-chat-1")
    assert gone is not None
    assert (gone["is_legacy"], gone["is_archived"]) == (True, False)
    assert "no longer listed" in gone["meta"]["deprecationNotice"]


def test_more_vanished_models_than_allowed_need_allow_large_changes(
    seeded_url: URL,
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _apply(runner, _plan_file(runner, tmp_path, "litellm", "--file", LITELLM, "--provider", "acme"))
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    plan = tmp_path / "vanished.json"
    result = invoke(
        runner, "import", "plan", "--source", "litellm", "--file", str(empty), "--out", str(plan)
    )
    assert result.exit_code == 2
    monkeypatch.setenv("MODELREG_IMPORTS__MAX_VANISHED", "0")
    get_settings.cache_clear()
    assert "vanished" in _apply(runner, str(plan), exit_code=1)
    _apply(runner, str(plan), "--allow-large-changes")
