"""`modelreg model list|show|create|patch|mark-legacy|unmark-legacy|archive|unarchive|history|
revert` against a seeded database."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner, Result

from modelreg.catalog.seed import SeedModel, load_seed_models
from modelreg.cli.main import app
from modelreg.db import jsonb

LEGACY = "gpt-4o"
REPLACEMENT = "gpt-4.1"  # gpt-4o's replacement
UNAVAILABLE_LEGACY = "claude-3-5-haiku"
PLAIN = "mistral-medium"  # active, nobody's replacement
NEW_ID = "acme-one"


def _new_model(**overrides: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "displayName": "Acme One",
        "capabilities": ["text", "code"],
        "contextLength": 32768,
        "inputCostUsdPerMillionTokens": 1,
        "outputCostUsdPerMillionTokens": 3,
        "requiredTier": "free",
        "tierRestrictionMode": "minimum",
        "allowedTiers": [],
    }
    meta.update(overrides.pop("meta", {}))
    return {
        "id": NEW_ID,
        "name": "Acme One",
        "provider": "acme",
        "meta": meta,
        "reason": "a new model",
        **overrides,
    }


def _file(directory: Path, name: str, content: Any) -> str:
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def _ok(runner: CliRunner, *args: str) -> Result:
    result = _invoke(runner, *args)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result


def _model_json(result: Result) -> dict[str, Any]:
    model: dict[str, Any] = jsonb.loads(result.stdout)
    return model


def _show(runner: CliRunner, model_id: str) -> dict[str, Any]:
    return _model_json(_ok(runner, "model", "show", model_id))


def _listed(runner: CliRunner, *options: str) -> dict[str, dict[str, Any]]:
    models: list[dict[str, Any]] = jsonb.loads(
        _ok(runner, "model", "list", "--json", *options).stdout
    )
    return {m["id"]: m for m in models}


def _stderr(result: Result) -> str:
    """stderr on one line (the console wraps long messages)."""
    return " ".join(result.stderr.split())


def _table_rows(output: str) -> list[list[str]]:
    """The cells of each data row of a table printed by the CLI."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def _fails_with(result: Result, code: str) -> None:
    assert result.exit_code == 1, (result.output, result.exception)
    assert f"({code})" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def _audit_actors(engine: Engine, model_id: str, action: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor FROM audit_events WHERE model_id = :id AND action = :action"),
            {"id": model_id, "action": action},
        )
        return [str(row.actor) for row in rows]


@pytest.fixture(scope="module")
def shipped() -> list[SeedModel]:
    return load_seed_models()


# Refused.


def test_show_unknown_model_exits_1_with_not_found(seeded_url: URL, runner: CliRunner) -> None:
    result = _invoke(runner, "model", "show", "no-such-model")

    _fails_with(result, "not_found")
    assert result.stdout == ""


def test_error_message_is_printed_verbatim_even_with_markup_like_text(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(runner, "model", "show", "[/x]")

    assert result.exit_code == 1, (result.output, result.exception)
    assert "(not_found)" in result.stderr
    assert "'[/x]'" in result.stderr


def test_create_from_an_invalid_file_exits_1_naming_the_bad_field(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "bad.json", _new_model(meta={"contextLength": -5}))

    result = _invoke(runner, "model", "create", "--file", path)

    _fails_with(result, "validation_error")
    assert "meta.contextLength" in _stderr(result)
    assert NEW_ID not in _listed(runner)


def test_create_with_a_bad_top_level_field_names_it(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "bad.json", _new_model(id="Not An Id"))

    result = _invoke(runner, "model", "create", "--file", path)

    _fails_with(result, "validation_error")
    assert "id:" in _stderr(result)


def test_create_from_a_file_that_is_not_json_exits_1(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "broken.json", '{"id": "acme-one",')

    result = _invoke(runner, "model", "create", "--file", path)

    _fails_with(result, "validation_error")
    assert "not JSON" in _stderr(result)


def test_create_from_a_missing_file_exits_non_zero_naming_the_file(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.json"

    result = _invoke(runner, "model", "create", "--file", str(missing))

    assert result.exit_code != 0
    assert not isinstance(result.exception, OSError), repr(result.exception)
    assert "missing.json" in _stderr(result)


def test_create_of_an_existing_id_exits_1_with_model_exists(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "dup.json", _new_model(id=PLAIN))

    _fails_with(_invoke(runner, "model", "create", "--file", path), "model_exists")


def test_patch_with_a_stale_if_version_exits_1_with_version_conflict(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    first = _file(tmp_path, "first.json", {"name": "Mistral Medium (first)"})
    second = _file(tmp_path, "second.json", {"name": "Mistral Medium (second)"})
    _ok(runner, "model", "patch", PLAIN, "--file", first, "--reason", "first")

    result = _invoke(
        runner, "model", "patch", PLAIN, "--file", second, "--if-version", "1", "--reason", "r"
    )

    _fails_with(result, "version_conflict")
    model = _show(runner, PLAIN)
    assert (model["name"], model["version"]) == ("Mistral Medium (first)", 2)


def test_patch_of_a_field_that_is_not_patchable_exits_1_naming_it(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "patch.json", {"version": 7})

    result = _invoke(runner, "model", "patch", PLAIN, "--file", path)

    _fails_with(result, "validation_error")
    assert "version:" in _stderr(result)


def test_archive_of_a_replacement_is_refused_without_force(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(runner, "model", "archive", REPLACEMENT, "--reason", "retire")

    _fails_with(result, "replacement_in_use")
    assert LEGACY in _stderr(result)
    assert _show(runner, REPLACEMENT)["state"] == "active"


def test_mark_legacy_with_an_unknown_replacement_exits_1(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(
        runner, "model", "mark-legacy", PLAIN, "--replacement", "no-such-model", "--reason", "r"
    )

    _fails_with(result, "replacement_invalid")
    assert _show(runner, PLAIN)["state"] == "active"


def test_unmark_legacy_of_an_active_model_exits_1_with_invalid_transition(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(runner, "model", "unmark-legacy", PLAIN, "--reason", "r")

    _fails_with(result, "invalid_transition")


def test_revert_to_a_version_that_does_not_exist_exits_1(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(runner, "model", "revert", PLAIN, "--to-version", "9", "--reason", "r")

    _fails_with(result, "not_found")


# Done.


def test_list_prints_a_table_row_per_model(
    seeded_url: URL, runner: CliRunner, shipped: list[SeedModel]
) -> None:
    rows = _table_rows(_ok(runner, "model", "list").stdout)

    assert len(rows) == len(shipped)
    by_id = {row[0]: row for row in rows}
    assert by_id[LEGACY][1:3] == ["openai", "legacy"]
    assert by_id[PLAIN][1:4] == ["mistral", "active", "yes"]


def test_list_json_lists_every_model_in_every_state(
    seeded_url: URL, runner: CliRunner, shipped: list[SeedModel]
) -> None:
    listed = _listed(runner)

    assert set(listed) == {m.id for m in shipped}
    assert listed[UNAVAILABLE_LEGACY]["is_available"] is False


def test_list_state_legacy_lists_only_legacy_models(
    seeded_url: URL, runner: CliRunner, shipped: list[SeedModel]
) -> None:
    expected = {m.id for m in shipped if m.is_legacy}
    assert expected == {LEGACY, UNAVAILABLE_LEGACY}

    table_ids = {
        row[0] for row in _table_rows(_ok(runner, "model", "list", "--state", "legacy").stdout)
    }
    listed = _listed(runner, "--state", "legacy")

    assert table_ids == expected
    assert set(listed) == expected
    assert {m["state"] for m in listed.values()} == {"legacy"}


def test_show_prints_the_model_as_json(seeded_url: URL, runner: CliRunner) -> None:
    model = _show(runner, LEGACY)

    assert model["id"] == LEGACY
    assert model["state"] == "legacy"
    assert model["version"] == 1
    assert model["meta"]["legacyReplacementModelId"] == REPLACEMENT
    assert model["meta"]["inputCostUsdPerMillionTokens"] == Decimal("2.5")


def test_create_from_a_file_creates_the_model_as_the_cli_user(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    path = _file(tmp_path, "new.json", _new_model())

    created = _model_json(_ok(runner, "model", "create", "--file", path))

    assert (created["id"], created["state"], created["version"]) == (NEW_ID, "active", 1)
    assert created["meta"]["creditsPer1kTokens"] == 2  # (1 + 3) / 2
    assert _listed(runner)[NEW_ID]["provider"] == "acme"
    actors = _audit_actors(engine_for(seeded_url), NEW_ID, "create")
    assert actors == [f"cli:{getpass.getuser()}"]


def test_create_reads_the_model_from_stdin(seeded_url: URL, runner: CliRunner) -> None:
    result = runner.invoke(app, ["model", "create", "--file", "-"], input=json.dumps(_new_model()))

    assert result.exit_code == 0, (result.output, result.stderr)
    assert _show(runner, NEW_ID)["name"] == "Acme One"


def test_patch_applies_the_merge_patch_with_its_reason(
    seeded_url: URL, runner: CliRunner, tmp_path: Path, engine_for: Callable[[URL], Engine]
) -> None:
    path = _file(tmp_path, "patch.json", {"name": "Mistral Medium 3.2", "meta": {"version": "x"}})

    patched = _model_json(
        _ok(runner, "model", "patch", PLAIN, "--file", path, "--reason", "new release")
    )

    assert (patched["name"], patched["version"]) == ("Mistral Medium 3.2", 2)
    assert patched["meta"]["version"] == "x"
    assert patched["meta"]["displayName"] == "Mistral Medium 3.1"
    with engine_for(seeded_url).connect() as conn:
        reason = conn.execute(
            text("SELECT reason FROM model_versions WHERE model_id = :id AND version = 2"),
            {"id": PLAIN},
        ).scalar_one()
    assert reason == "new release"


def test_patch_with_the_current_if_version_applies(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "patch.json", {"name": "Mistral Medium (checked)"})

    patched = _model_json(
        _ok(runner, "model", "patch", PLAIN, "--file", path, "--if-version", "1", "--reason", "r")
    )

    assert (patched["name"], patched["version"]) == ("Mistral Medium (checked)", 2)


def test_mark_legacy_makes_the_model_legacy_with_its_replacement(
    seeded_url: URL, runner: CliRunner
) -> None:
    marked = _model_json(
        _ok(
            runner,
            "model",
            "mark-legacy",
            PLAIN,
            "--replacement",
            "mistral-large",
            "--reason",
            "superseded",
        )
    )

    assert marked["state"] == "legacy"
    assert marked["meta"]["legacyReplacementModelId"] == "mistral-large"
    assert marked["meta"]["deprecatedAt"]
    assert set(_listed(runner, "--state", "legacy")) == {LEGACY, UNAVAILABLE_LEGACY, PLAIN}


def test_unmark_legacy_makes_a_legacy_model_active_again(
    seeded_url: URL, runner: CliRunner
) -> None:
    unmarked = _model_json(_ok(runner, "model", "unmark-legacy", LEGACY, "--reason", "kept"))

    assert unmarked["state"] == "active"
    assert unmarked["meta"].get("legacyReplacementModelId") is None
    assert LEGACY not in _listed(runner, "--state", "legacy")


def test_archive_archives_a_model_and_makes_it_unavailable(
    seeded_url: URL, runner: CliRunner
) -> None:
    archived = _model_json(_ok(runner, "model", "archive", PLAIN, "--reason", "retired"))

    assert (archived["state"], archived["is_available"]) == ("archived", False)
    assert set(_listed(runner, "--state", "archived")) == {PLAIN}


def test_archive_of_a_replacement_with_force_archives_it(
    seeded_url: URL, runner: CliRunner
) -> None:
    archived = _model_json(
        _ok(runner, "model", "archive", REPLACEMENT, "--force", "--reason", "retired")
    )

    assert archived["state"] == "archived"


def test_unarchive_restores_the_state_and_availability_before_archive(
    seeded_url: URL, runner: CliRunner
) -> None:
    _ok(runner, "model", "archive", LEGACY, "--reason", "retired")

    restored = _model_json(_ok(runner, "model", "unarchive", LEGACY, "--reason", "back"))

    assert (restored["state"], restored["is_available"]) == ("legacy", True)


def test_history_lists_every_version_with_its_actor_and_action(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "patch.json", {"name": "Mistral Medium (renamed)"})
    _ok(runner, "model", "patch", PLAIN, "--file", path, "--reason", "rename")
    _ok(runner, "model", "archive", PLAIN, "--reason", "retire")

    rows = [row for row in _table_rows(_ok(runner, "model", "history", PLAIN).stdout) if row[0]]

    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert [row[3] for row in rows] == ["seed", "update", "archive"]
    assert rows[0][2] == "seed"
    assert all(row[2].startswith("cli:") for row in rows[1:]), rows


def test_history_of_an_unknown_model_exits_1_with_not_found(
    seeded_url: URL, runner: CliRunner
) -> None:
    _fails_with(_invoke(runner, "model", "history", "no-such-model"), "not_found")


def test_revert_makes_a_past_version_current_as_a_new_version(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "patch.json", {"name": "Mistral Medium (renamed)"})
    _ok(runner, "model", "patch", PLAIN, "--file", path, "--reason", "rename")

    reverted = _model_json(
        _ok(runner, "model", "revert", PLAIN, "--to-version", "1", "--reason", "undo")
    )

    assert (reverted["name"], reverted["version"]) == ("Mistral Medium 3.1", 3)
    assert _show(runner, PLAIN)["name"] == "Mistral Medium 3.1"
