"""The three upstream formats read into entries: exact prices, limits as stated, non-chat modes
skipped with their mode, unmappable entries reported with the reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelreg.imports.exceptions import SourceUnreadable
from modelreg.imports.sources import Entry, Parsed, SourceName, parse, read_bytes

DATA = Path(__file__).parent / "data"


def _parsed(source: SourceName) -> Parsed:
    return parse(source, (DATA / f"{source.value}.json").read_bytes())


def _entry(parsed: Parsed, key: str) -> Entry:
    return next(e for e in parsed.entries if e.key == key)


def test_a_document_that_is_not_json_is_refused() -> None:
    with pytest.raises(SourceUnreadable, match="not JSON"):
        parse(SourceName.LITELLM, b"{not json")


def test_a_document_of_another_shape_is_refused() -> None:
    with pytest.raises(SourceUnreadable, match="data"):
        parse(SourceName.OPENROUTER, b"[1, 2]")


def test_litellm_prices_per_token_become_exact_usd_per_million() -> None:
    parsed = _parsed(SourceName.LITELLM)
    gpt5 = _entry(parsed, "gpt-5")
    assert gpt5.input_usd_per_million == Decimal("1.25")
    assert gpt5.output_usd_per_million == Decimal("10")
    # given as strings
    mini = _entry(parsed, "gpt-5-mini")
    assert mini.input_usd_per_million == Decimal("0.3")
    assert str(mini.output_usd_per_million) == "2"
    assert isinstance(mini.input_usd_per_million, Decimal)


def test_litellm_limits_flags_provider_and_deprecation() -> None:
    parsed = _parsed(SourceName.LITELLM)
    gpt5 = _entry(parsed, "gpt-5")
    assert (gpt5.context_length, gpt5.max_output_tokens) == (400000, 128000)
    assert gpt5.flags == {
        "vision": True,
        "function_calling": True,
        "reasoning": True,
        "structured_output": True,
    }
    assert gpt5.provider == "openai"
    o3 = _entry(parsed, "o3")
    assert o3.deprecated
    assert o3.sunset == date(2027, 3, 1)


def test_litellm_missing_limits_stay_missing_and_prefixed_keys_lose_their_provider() -> None:
    sonnet = _entry(_parsed(SourceName.LITELLM), "anthropic/claude-sonnet-4-5")
    assert sonnet.id == "claude-sonnet-4-5"
    assert sonnet.context_length is None  # no max_input_tokens; max_tokens is not guessed from
    assert sonnet.max_output_tokens == 64000


def test_litellm_non_chat_entries_are_skipped_with_their_mode() -> None:
    parsed = _parsed(SourceName.LITELLM)
    modes = {item["key"]: item["mode"] for item in parsed.skipped}
    assert modes == {
        "text-embedding-3-large": "embedding",
        "dall-e-3": "image_generation",
        "whisper-1": "audio_transcription",
    }
    assert "sample_spec" not in {e.key for e in parsed.entries} | set(modes)


def test_litellm_entry_without_a_price_is_unmappable_with_the_reason() -> None:
    reasons = {item["key"]: item["reason"] for item in _parsed(SourceName.LITELLM).unmappable}
    assert "output_cost_per_token" in reasons["acme-no-price"]


def test_openrouter_prices_as_strings_modalities_and_parameters() -> None:
    parsed = _parsed(SourceName.OPENROUTER)
    mini = _entry(parsed, "openai/gpt-5-mini")
    assert mini.id == "gpt-5-mini"
    assert mini.provider == "openai"
    assert (mini.input_usd_per_million, mini.output_usd_per_million) == (
        Decimal("0.3"),
        Decimal("2"),
    )
    assert (mini.context_length, mini.max_output_tokens) == (400000, 128000)
    assert mini.flags == {
        "vision": True,
        "audio": False,
        "function_calling": True,
        "reasoning": True,
        "structured_output": True,
    }
    small = _entry(parsed, "mistralai/mistral-small")
    assert small.max_output_tokens is None
    assert small.sunset == date(2027, 6, 30)
    modes = {item["key"]: item["mode"] for item in parsed.skipped}
    assert modes == {
        "google/gemini-2.5-flash-image": "image",
        "openai/text-embedding-3-small": "embedding",
    }
    reasons = {item["key"]: item["reason"] for item in parsed.unmappable}
    assert "negative" in reasons["openrouter/auto"]


def test_modelsdev_costs_are_per_million_already() -> None:
    parsed = _parsed(SourceName.MODELSDEV)
    large = _entry(parsed, "mistral/mistral-large")
    assert (large.input_usd_per_million, large.output_usd_per_million) == (Decimal(2), Decimal(6))
    assert (large.context_length, large.max_output_tokens) == (131072, 16384)
    assert large.flags == {
        "vision": False,
        "audio": False,
        "function_calling": True,
        "reasoning": False,
    }
    assert _entry(parsed, "mistral/codestral").deprecated
    assert _entry(parsed, "xai/grok-3-mini").input_usd_per_million == Decimal("0.3")
    assert _entry(parsed, "openrouter/x-ai/grok-3-mini").id is None  # not a valid model id
    modes = {item["key"]: item["mode"] for item in parsed.skipped}
    assert modes == {
        "mistral/mistral-embed": "embedding",
        "xai/grok-2-image": "image",
        "acme-cloud/tts-one": "audio",
    }


def test_a_missing_file_is_reported() -> None:
    with pytest.raises(SourceUnreadable, match="cannot read"):
        read_bytes(file="/nonexistent/list.json")


@pytest.fixture
def http_server() -> Iterator[str]:
    body = (DATA / "openrouter.json").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/api/v1/models":
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_list_is_fetched_from_a_url(http_server: str) -> None:
    body = read_bytes(url=f"{http_server}/api/v1/models")
    assert _entry(parse(SourceName.OPENROUTER, body), "openai/gpt-5-mini").id == "gpt-5-mini"
    with pytest.raises(SourceUnreadable, match="cannot fetch"):
        read_bytes(url=f"{http_server}/missing")
