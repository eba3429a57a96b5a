"""`modelreg model prices|schedule-price|cancel-price`: dated prices from the command line,
through the same service as the API (validated, audited as the CLI user)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from modelreg.db import jsonb
from tests.cli.test_model_cli import (
    PLAIN,
    _audit_actors,
    _fails_with,
    _invoke,
    _ok,
    _show,
    _stderr,
    _table_rows,
)

LATER = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)


def _history(runner: CliRunner, model_id: str) -> list[dict[str, Any]]:
    lines = _ok(runner, "model", "prices", model_id, "--json").stdout.splitlines()
    return [jsonb.loads(line) for line in lines]


def _schedule(runner: CliRunner, *extra: str) -> dict[str, Any]:
    result = _ok(
        runner,
        "model",
        "schedule-price",
        PLAIN,
        "--from",
        LATER.isoformat(),
        "--data",
        '{"inputCostUsdPerMillionTokens": 4.5}',
        *extra,
    )
    entry: dict[str, Any] = jsonb.loads(result.stdout)
    return entry


def test_schedule_records_a_change_to_come_and_leaves_todays_prices(
    seeded_url: URL, runner: CliRunner, engine_for: Callable[[URL], Engine]
) -> None:
    before = _show(runner, PLAIN)["meta"]

    entry = _schedule(runner, "--reason", "new list price")

    assert entry["status"] == "scheduled"
    assert datetime.fromisoformat(entry["effectiveFrom"]) == LATER
    assert entry["inputCostUsdPerMillionTokens"] == Decimal("4.5")
    # Not given: in force just before, kept.
    assert entry["outputCostUsdPerMillionTokens"] == before["outputCostUsdPerMillionTokens"]
    assert entry["recordedBy"] == f"cli:{getpass.getuser()}"
    assert entry["reason"] == "new list price"
    assert _show(runner, PLAIN)["meta"] == before
    history = _history(runner, PLAIN)
    assert [e["status"] for e in history] == ["current", "scheduled"]
    assert history[-1]["id"] == entry["id"]
    actors = _audit_actors(engine_for(seeded_url), PLAIN, "schedule_price")
    assert actors == [f"cli:{getpass.getuser()}"]


def test_prices_prints_a_table_row_per_entry(seeded_url: URL, runner: CliRunner) -> None:
    entry = _schedule(runner)

    output = _ok(runner, "model", "prices", PLAIN).stdout
    rows = [row for row in _table_rows(output) if row[0]]

    assert [row[2] for row in rows] == ["current", "scheduled"], output
    assert rows[1][0] == str(entry["id"])
    assert rows[1][3] == "4.5"


def test_cancel_withdraws_a_scheduled_change_once(seeded_url: URL, runner: CliRunner) -> None:
    entry = _schedule(runner)

    cancelled = jsonb.loads(
        _ok(runner, "model", "cancel-price", PLAIN, str(entry["id"]), "-r", "oops").stdout
    )

    assert cancelled["status"] == "cancelled"
    assert [e["status"] for e in _history(runner, PLAIN)] == ["current", "cancelled"]
    again = _invoke(runner, "model", "cancel-price", PLAIN, str(entry["id"]))
    _fails_with(again, "price_already_effective")


def test_schedule_in_the_past_is_refused_naming_the_option(
    seeded_url: URL, runner: CliRunner
) -> None:
    result = _invoke(
        runner,
        "model",
        "schedule-price",
        PLAIN,
        "--from",
        "2020-01-01T00:00Z",
        "--data",
        '{"inputCostUsdPerMillionTokens": 4.5}',
    )

    _fails_with(result, "validation_error")
    assert "--from: must be in the future" in _stderr(result)
    assert "`modelreg model patch`" in _stderr(result)  # how to change today's prices, here
    assert [e["status"] for e in _history(runner, PLAIN)] == ["current"]


def test_bad_data_is_refused_naming_the_field(seeded_url: URL, runner: CliRunner) -> None:
    for data, named in (
        ('{"inputCostUsdPerMillionTokens": -1}', "--data.inputCostUsdPerMillionTokens"),
        ('{"displayName": "x"}', "--data.displayName"),
        ("{}", "--data:"),
        ("[1]", "--data:"),
        ('{"effectiveFrom": "2030-01-01"}', "--data.effectiveFrom"),
        ("not json", "$: not JSON"),
    ):
        result = _invoke(
            runner, "model", "schedule-price", PLAIN, "--from", LATER.isoformat(), "-d", data
        )
        _fails_with(result, "validation_error")
        assert named in _stderr(result), (data, _stderr(result))
    assert [e["status"] for e in _history(runner, PLAIN)] == ["current"]


def test_prices_of_an_unknown_model_exits_1_with_not_found(
    seeded_url: URL, runner: CliRunner
) -> None:
    _fails_with(_invoke(runner, "model", "prices", "no-such-model"), "not_found")
    _fails_with(_invoke(runner, "model", "cancel-price", "no-such-model", "1"), "not_found")
