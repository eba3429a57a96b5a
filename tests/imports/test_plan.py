"""`modelreg import plan`: every entry sorted into add, change, deprecate, vanished, kept,
skipped or unmappable, against a seeded catalog; exit 0 when nothing to do, 2 with changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.db import jsonb
from tests.imports.helpers import DATA, by_id, by_key, ids, invoke, plan_json

LITELLM = str(DATA / "litellm.json")


def test_a_missing_file_exits_1_naming_it(seeded_url: URL, runner: CliRunner) -> None:
    result = invoke(runner, "import", "plan", "--source", "litellm", "--file", "/nope.json")
    assert result.exit_code == 1
    assert "/nope.json" in result.stderr


def test_litellm_plan_sorts_every_entry(seeded_url: URL, runner: CliRunner) -> None:
    plan = plan_json(runner, "litellm", "--file", LITELLM)
    assert plan["source"] == "litellm"
    assert isinstance(plan["revision"], int)

    add = by_id(plan, "add")
    assert set(add) == {"acme-chat-1", "acme-free"}
    assert add["acme-chat-1"]["is_available"] is False  # an admin decides tier and credits
    assert add["acme-chat-1"]["meta"]["inputCostUsdPerMillionTokens"] == Decimal("0.7")
    assert add["acme-chat-1"]["meta"]["capabilities"] == ["text", "function_calling"]
    assert add["acme-chat-1"]["meta"]["importSource"] == {"source": "litellm", "key": "acme-chat-1"}

    change = by_id(plan, "change")
    assert set(change) == {"gpt-5-mini", "gpt-4.1", "claude-sonnet-4-5"}
    [mini_price] = change["gpt-5-mini"]["fields"]
    assert mini_price == {
        "field": "meta.inputCostUsdPerMillionTokens",
        "before": Decimal("0.25"),
        "after": Decimal("0.3"),
        "change_pct": Decimal("20.00"),
    }
    [gpt41_price] = change["gpt-4.1"]["fields"]
    assert gpt41_price["change_pct"] == Decimal("100.00")
    [sonnet] = change["claude-sonnet-4-5"]["fields"]
    assert sonnet["field"] == "meta.capabilities"
    assert sonnet["after"] == [*sonnet["before"], "structured_output"]
    # the model is linked by its id and recorded as this entry's
    patch = change["claude-sonnet-4-5"]["patch"]["meta"]
    assert patch["importSource"] == {"source": "litellm", "key": "anthropic/claude-sonnet-4-5"}
    assert "contextLength" not in patch  # missing upstream: left alone

    deprecate = by_id(plan, "deprecate")
    assert set(deprecate) == {"o3", "o4-mini"}
    assert deprecate["o3"]["sunsetDate"] == "2027-03-01"
    assert deprecate["o4-mini"]["sunsetDate"] is None  # the date is past: legacy without sunset
    assert "2025-01-01" in deprecate["o4-mini"]["notice"]

    assert plan["vanished"] == []
    assert plan["kept"] == []

    skipped = by_key(plan, "skipped")
    assert skipped["openai/gpt-5"]["reason"] == "duplicate of gpt-5"
    assert {k: v["mode"] for k, v in skipped.items() if v["reason"] == "mode"} == {
        "text-embedding-3-large": "embedding",
        "dall-e-3": "image_generation",
        "whisper-1": "audio_transcription",
    }

    unmappable = by_key(plan, "unmappable")
    assert set(unmappable) == {
        "azure/gpt-5",
        "acme-no-limits",
        "acme-no-price",
        "Acme/Big Model",
    }
    assert "gpt-5" in unmappable["azure/gpt-5"]["reason"]
    assert "context length" in unmappable["acme-no-limits"]["reason"]
    assert "--id-map" in unmappable["Acme/Big Model"]["reason"]


def test_nothing_to_do_exits_0(seeded_url: URL, runner: CliRunner) -> None:
    plan = plan_json(runner, "litellm", "--file", LITELLM, "--only", "gpt-5", exit_code=0)
    assert all(plan[group] == [] for group in ("add", "change", "deprecate", "vanished"))


def test_the_table_names_the_changes(seeded_url: URL, runner: CliRunner) -> None:
    result = invoke(runner, "import", "plan", "--source", "litellm", "--file", LITELLM)
    assert result.exit_code == 2
    assert "gpt-5-mini" in result.stdout
    assert "20.00" in result.stdout
    assert "acme-chat-1" in result.stdout


def test_provider_filter_and_id_map(seeded_url: URL, runner: CliRunner, tmp_path: Path) -> None:
    id_map = tmp_path / "ids.json"
    id_map.write_text(json.dumps({"Acme/Big Model": "acme-big"}))
    plan = plan_json(
        runner, "litellm", "--file", LITELLM, "--provider", "acme", "--id-map", str(id_map)
    )
    assert ids(plan, "add") == {"acme-chat-1", "acme-big", "acme-free"}
    assert plan["change"] == plan["deprecate"] == []


def test_locked_fields_and_pinned_credits_are_kept(
    seeded_url: URL, runner: CliRunner, engine_for: Callable[[URL], Engine]
) -> None:
    with engine_for(seeded_url).begin() as conn:
        conn.execute(
            text("UPDATE models SET meta = meta || CAST(:locks AS jsonb) WHERE id = 'gpt-5-mini'"),
            {"locks": json.dumps({"importLocks": ["inputCostUsdPerMillionTokens"]})},
        )
        conn.execute(
            text(
                "UPDATE models SET meta = meta || '{\"creditsPinned\": true}' WHERE id = 'gpt-4.1'"
            )
        )
    plan = plan_json(runner, "litellm", "--file", LITELLM)
    assert "gpt-5-mini" not in ids(plan, "change")
    kept = {(item["id"], item["field"]): item for item in plan["kept"]}
    assert kept[("gpt-5-mini", "meta.inputCostUsdPerMillionTokens")]["upstream"] == Decimal("0.3")
    assert kept[("gpt-5-mini", "meta.inputCostUsdPerMillionTokens")]["why"] == "importLocks"
    assert kept[("gpt-4.1", "meta.creditsPer1kTokens")]["why"] == "creditsPinned"
    assert "gpt-4.1" in ids(plan, "change")  # the price still follows upstream


def test_openrouter_plan(seeded_url: URL, runner: CliRunner, tmp_path: Path) -> None:
    id_map = tmp_path / "ids.json"
    id_map.write_text(json.dumps({"anthropic/claude-haiku-4.5": "claude-haiku-4-5"}))
    plan = plan_json(
        runner, "openrouter", "--file", str(DATA / "openrouter.json"), "--id-map", str(id_map)
    )
    assert ids(plan, "add") == {"acme-chat-1", "acme-chat-1:free"}
    assert ids(plan, "change") == {"gpt-5-mini", "mistral-small"}
    small = by_id(plan, "change")["mistral-small"]["fields"]
    assert [f["field"] for f in small] == ["meta.capabilities"]
    assert "vision" not in small[0]["after"]  # upstream: text input only
    assert by_id(plan, "deprecate")["mistral-small"]["sunsetDate"] == "2027-06-30"
    assert "claude-haiku-4-5" not in ids(plan, "change")  # linked through the map, no difference
    assert set(by_key(plan, "unmappable")) == {"openrouter/auto"}


def test_modelsdev_plan(seeded_url: URL, runner: CliRunner) -> None:
    plan = plan_json(runner, "modelsdev", "--file", str(DATA / "modelsdev.json"))
    change = by_id(plan, "change")
    assert set(change) == {"mistral-large", "codestral", "grok-3-mini"}
    assert change["mistral-large"]["patch"]["meta"]["maxOutputTokens"] == 16384
    assert "function_calling" in change["codestral"]["patch"]["meta"]["capabilities"]
    assert by_id(plan, "deprecate")["codestral"]["sunsetDate"] is None
    unmappable = by_key(plan, "unmappable")
    # the same id at another provider, with another provider: the catalog's provider decides
    assert "xai/grok-3-mini" in unmappable["acme-cloud/grok-3-mini"]["reason"]
    assert "openrouter/x-ai/grok-3-mini" in unmappable
    assert plan["add"] == []


def test_the_plan_is_written_with_out(seeded_url: URL, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = invoke(
        runner, "import", "plan", "--source", "litellm", "--file", LITELLM, "--out", str(out)
    )
    assert result.exit_code == 2
    plan = jsonb.loads(out.read_text())
    assert by_id(plan, "change")["gpt-5-mini"]["version"] == 1
