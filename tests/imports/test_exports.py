"""`/v1/export/litellm`, `/v1/export/litellm-config`, `/v1/export/openrouter`: the catalog in
gateway formats, from the snapshot with ETag and 304; importing an export back plans nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.app import create_app
from modelreg.db import jsonb
from tests.imports.helpers import DATA, invoke, plan_json


@contextmanager
def _app() -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def _get(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return jsonb.loads(response.content)


def test_litellm_export_is_a_cost_map_with_etag_and_304(seeded_url: URL) -> None:
    with _app() as client:
        plain = {"Accept-Encoding": "identity"}
        first = client.get("/v1/export/litellm", headers=plain)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag == f'"{client.get("/readyz").json()["revision"]}"'
        cost_map = jsonb.loads(first.content)
        again = client.get("/v1/export/litellm", headers=plain)  # from the snapshot's bytes
        assert again.content == first.content
        assert again.headers["etag"] == etag
        unchanged = client.get("/v1/export/litellm", headers={**plain, "If-None-Match": etag})
        assert unchanged.status_code == 304
    gpt5 = cost_map["gpt-5"]
    assert gpt5["input_cost_per_token"] == Decimal("0.00000125")
    assert gpt5["output_cost_per_token"] == Decimal("0.00001")
    assert gpt5["litellm_provider"] == "openai"
    assert (gpt5["max_input_tokens"], gpt5["max_output_tokens"]) == (400000, 128000)
    assert gpt5["mode"] == "chat"
    assert gpt5["supports_vision"] is True
    assert gpt5["supports_audio_input"] is False
    assert cost_map["gpt-4o"]["deprecation_date"] == "2027-01-14"  # legacy with a sunset
    assert "deprecation_date" not in gpt5
    assert "max_output_tokens" not in cost_map["mistral-large"]  # unknown: absent


def test_litellm_config_lists_the_served_models(seeded_url: URL) -> None:
    with _app() as client:
        config = _get(client, "/v1/export/litellm-config")
    entries = {m["model_name"]: m for m in config["model_list"]}
    assert entries["gpt-5"]["litellm_params"] == {"model": "openai/gpt-5"}
    assert entries["gpt-5"]["model_info"]["input_cost_per_token"] == Decimal("0.00000125")
    assert "claude-3-5-haiku" not in entries  # unavailable


def test_openrouter_export_is_shaped_like_the_model_list(seeded_url: URL) -> None:
    with _app() as client:
        listed = _get(client, "/v1/export/openrouter")
    models = {m["id"]: m for m in listed["data"]}
    gpt5 = models["openai/gpt-5"]
    assert gpt5["pricing"]["prompt"] == "0.00000125"
    assert gpt5["architecture"]["input_modalities"] == ["text", "image"]
    assert "tools" in gpt5["supported_parameters"]
    assert gpt5["top_provider"]["max_completion_tokens"] == 128000


def _round_trip(client: TestClient, runner: CliRunner, tmp_path: Path, source: str) -> None:
    route = {"litellm": "/v1/export/litellm", "openrouter": "/v1/export/openrouter"}[source]
    exported = tmp_path / f"{source}-export.json"
    exported.write_bytes(client.get(route).content)
    plan = plan_json(runner, source, "--file", str(exported), exit_code=0)
    for group in ("add", "change", "deprecate", "vanished", "kept", "skipped", "unmappable"):
        assert plan[group] == [], (group, plan[group])


def test_importing_the_exports_plans_nothing(
    seeded_url: URL, runner: CliRunner, tmp_path: Path
) -> None:
    with _app() as client:
        _round_trip(client, runner, tmp_path, "litellm")
        _round_trip(client, runner, tmp_path, "openrouter")


def test_round_trip_after_an_import(seeded_url: URL, runner: CliRunner, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    made = invoke(
        runner, "import", "plan", "--source", "litellm", "--file", str(DATA / "litellm.json"),
        "--out", str(plan),
    )  # fmt: skip
    assert made.exit_code == 2
    applied = invoke(runner, "import", "apply", str(plan), "-r", "sync", "--allow-large-changes")
    assert applied.exit_code == 0, applied.stderr
    with _app() as client:
        # models owned by the source, one under a provider-prefixed key, one unavailable
        cost_map = _get(client, "/v1/export/litellm")
        assert cost_map["gpt-5-mini"]["input_cost_per_token"] == Decimal("0.0000003")
        assert "acme-chat-1" in cost_map
        assert cost_map["o3"]["deprecation_date"] == "2027-03-01"
        _round_trip(client, runner, tmp_path, "litellm")
