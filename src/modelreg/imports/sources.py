"""The upstream lists modelreg imports from, each read into the same `Entry` shape.

- `litellm`: LiteLLM's `model_prices_and_context_window.json` (prices per token).
- `openrouter`: the response of OpenRouter's `GET /api/v1/models` (prices per token, as strings).
- `modelsdev`: models.dev's `api.json` (prices per million tokens).

Every number is read as Decimal (`modelreg.db.jsonb.loads`) and a price given as a string is
read with Decimal too, so no float is ever on the way. An entry whose mode is not taken (only
chat by default) is skipped with its mode; an entry that cannot be mapped is reported with the
reason. Nothing is guessed: a missing limit stays missing. See docs/import.md.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelreg.db import jsonb
from modelreg.imports.exceptions import SourceUnreadable

MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._:-]*$")
MAX_ID_LENGTH = 100
MILLION = Decimal(1_000_000)
FETCH_TIMEOUT_S = 30.0
MAX_SOURCE_BYTES = 64 * 1024 * 1024


class SourceName(StrEnum):
    LITELLM = "litellm"
    OPENROUTER = "openrouter"
    MODELSDEV = "modelsdev"


# Capabilities an upstream list states: an entry that states a flag (true or false) decides it;
# an entry silent on a flag leaves the catalog's value alone.
MANAGED_CAPABILITIES = ("vision", "function_calling", "reasoning", "structured_output", "audio")


@dataclass
class Entry:
    """One upstream model, in modelreg's terms."""

    key: str  # the entry's key in its source (provenance)
    id: str | None  # the model id it maps to (None: the key gives no valid id)
    name: str
    provider: str
    context_length: int | None = None
    max_output_tokens: int | None = None
    input_usd_per_million: Decimal | None = None
    output_usd_per_million: Decimal | None = None
    flags: dict[str, bool] = field(default_factory=dict)  # capability -> stated value
    deprecated: bool = False
    sunset: date | None = None
    replacement: str | None = None

    def facts(self) -> tuple[Any, ...]:
        """What two entries must agree on to be the same model under two keys."""
        return (
            self.provider,
            self.context_length,
            self.max_output_tokens,
            self.input_usd_per_million,
            self.output_usd_per_million,
            tuple(sorted(self.flags.items())),
            self.deprecated,
            self.sunset,
            self.replacement,
        )


@dataclass
class Parsed:
    source: SourceName
    entries: list[Entry] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # key, id, mode, reason
    unmappable: list[dict[str, Any]] = field(default_factory=list)  # key, id, reason


class Unmappable(Exception):
    """An entry that cannot be mapped, with the reason."""


def within_limit(body: bytes) -> bytes:
    """An uploaded document, refused when it is larger than a source may be."""
    if len(body) > MAX_SOURCE_BYTES:
        raise SourceUnreadable(f"larger than {MAX_SOURCE_BYTES} bytes")
    return body


def read_bytes(*, file: str | None = None, url: str | None = None) -> bytes:
    """The source document, from a file or an http(s) URL (exactly one of them)."""
    if (file is None) == (url is None):
        raise SourceUnreadable("give exactly one of --file and --url")
    if file is not None:
        try:
            return Path(file).read_bytes()
        except OSError as exc:
            raise SourceUnreadable(f"cannot read {file}: {exc}") from None
    assert url is not None
    if not url.startswith(("http://", "https://")):
        raise SourceUnreadable(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            body: bytes = response.read(MAX_SOURCE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SourceUnreadable(f"cannot fetch {url}: HTTP {exc.code}") from None
    except OSError as exc:
        raise SourceUnreadable(f"cannot fetch {url}: {exc}") from None
    if len(body) > MAX_SOURCE_BYTES:
        raise SourceUnreadable(f"{url} is larger than {MAX_SOURCE_BYTES} bytes")
    return body


def parse(source: SourceName, body: bytes, *, modes: Collection[str] = ("chat",)) -> Parsed:
    try:
        document = jsonb.loads(body)
    except ValueError as exc:
        raise SourceUnreadable(f"not JSON: {exc}") from None
    parser = PARSERS[source]
    parsed = Parsed(source)
    for key, mode, raw in parser.entries(document):
        if mode not in modes:
            parsed.skipped.append(
                {"key": key, "id": _model_id(key, raw, parser), "mode": mode, "reason": "mode"}
            )
            continue
        try:
            parsed.entries.append(parser.entry(key, raw))
        except Unmappable as exc:
            parsed.unmappable.append(
                {"key": key, "id": _model_id(key, raw, parser), "reason": str(exc)}
            )
    return parsed


def _model_id(key: str, raw: Any, parser: _Parser) -> str | None:
    try:
        return parser.model_id(key, raw)
    except Unmappable:
        return None


def valid_id(candidate: str) -> str | None:
    return candidate if len(candidate) <= MAX_ID_LENGTH and MODEL_ID.match(candidate) else None


# -- numbers -----------------------------------------------------------------------------------


def decimal(value: Any, what: str) -> Decimal | None:
    """A JSON number or a numeric string as an exact Decimal; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unmappable(f"{what} is a boolean, not a number")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise Unmappable(f"{what} {value!r} is not a number") from None
    else:
        raise Unmappable(f"{what} is not a number")
    if not number.is_finite():
        raise Unmappable(f"{what} {value!r} is not a finite number")
    if number < 0:
        raise Unmappable(f"{what} {value!r} is negative")
    return number


def tidy(value: Decimal) -> Decimal:
    """The shortest exact form: 3.000000 -> 3, 1E+2 -> 100 (same value, equal as Decimal)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def per_million(per_token: Decimal | None) -> Decimal | None:
    return None if per_token is None else tidy(per_token * MILLION)


def token_count(value: Any, what: str) -> int | None:
    number = decimal(value, what)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise Unmappable(f"{what} {value!r} is not a whole number")
    count = int(number)
    if count <= 0:
        return None  # 0 is how some lists say "unknown"
    if count > 2**31 - 1:
        raise Unmappable(f"{what} {value!r} is too large")
    return count


def sunset(value: Any, what: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unmappable(f"{what} is not a date")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise Unmappable(f"{what} {value!r} is not an ISO date") from None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _flag(flags: dict[str, bool], raw: dict[str, Any], key: str, capability: str) -> None:
    if key in raw and isinstance(raw[key], bool):
        flags[capability] = raw[key]


# -- the three formats -------------------------------------------------------------------------


class _Parser:
    def entries(self, document: Any) -> Iterable[tuple[str, str, Any]]:
        raise NotImplementedError

    def model_id(self, key: str, raw: Any) -> str | None:
        raise NotImplementedError

    def entry(self, key: str, raw: Any) -> Entry:
        raise NotImplementedError


class _LiteLLM(_Parser):
    """`{key: {litellm_provider, mode, max_input_tokens, ..., input_cost_per_token, ...}}`."""

    def entries(self, document: Any) -> Iterable[tuple[str, str, Any]]:
        if not isinstance(document, dict):
            raise SourceUnreadable("a LiteLLM cost map is a JSON object of models")
        for key, raw in document.items():
            if key == "sample_spec":
                continue  # the documentation entry of the format
            mode = raw.get("mode") if isinstance(raw, dict) else None
            yield key, mode if isinstance(mode, str) else "unknown", raw

    def model_id(self, key: str, raw: Any) -> str | None:
        provider = raw.get("litellm_provider") if isinstance(raw, dict) else None
        candidate = key
        if isinstance(provider, str) and key.startswith(provider + "/"):
            candidate = key[len(provider) + 1 :]
        return valid_id(candidate)

    def entry(self, key: str, raw: Any) -> Entry:
        if not isinstance(raw, dict):
            raise Unmappable("not a JSON object")
        provider = raw.get("litellm_provider")
        if not isinstance(provider, str) or not provider:
            raise Unmappable("no litellm_provider")
        input_cost = decimal(raw.get("input_cost_per_token"), "input_cost_per_token")
        output_cost = decimal(raw.get("output_cost_per_token"), "output_cost_per_token")
        if input_cost is None or output_cost is None:
            raise Unmappable("no input_cost_per_token or output_cost_per_token")
        flags: dict[str, bool] = {}
        _flag(flags, raw, "supports_vision", "vision")
        _flag(flags, raw, "supports_function_calling", "function_calling")
        _flag(flags, raw, "supports_reasoning", "reasoning")
        _flag(flags, raw, "supports_response_schema", "structured_output")
        _flag(flags, raw, "supports_audio_input", "audio")
        deprecation = sunset(raw.get("deprecation_date"), "deprecation_date")
        return Entry(
            key=key,
            id=self.model_id(key, raw),
            name=key,
            provider=provider,
            context_length=token_count(raw.get("max_input_tokens"), "max_input_tokens"),
            max_output_tokens=token_count(raw.get("max_output_tokens"), "max_output_tokens"),
            input_usd_per_million=per_million(input_cost),
            output_usd_per_million=per_million(output_cost),
            flags=flags,
            deprecated=deprecation is not None,
            sunset=deprecation,
        )


def _openrouter_mode(raw: Any) -> str:
    architecture = raw.get("architecture") if isinstance(raw, dict) else None
    outputs = architecture.get("output_modalities") if isinstance(architecture, dict) else None
    if not isinstance(outputs, list) or not outputs:
        return "unknown"
    if "text" in outputs:
        return "chat"
    if "embeddings" in outputs or "embedding" in outputs:
        return "embedding"
    return str(outputs[0])


class _OpenRouter(_Parser):
    """`{"data": [{id: "provider/model", name, context_length, architecture, pricing,
    top_provider, supported_parameters, ...}]}`."""

    def entries(self, document: Any) -> Iterable[tuple[str, str, Any]]:
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, list):
            raise SourceUnreadable('an OpenRouter model list is {"data": [...]}')
        for raw in data:
            key = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(key, str):
                continue
            yield key, _openrouter_mode(raw), raw

    def model_id(self, key: str, raw: Any) -> str | None:
        _, _, name = key.partition("/")
        return valid_id(name) if name else None

    def entry(self, key: str, raw: Any) -> Entry:
        provider, slash, _ = key.partition("/")
        if not slash or not provider:
            raise Unmappable("the id names no provider (provider/model)")
        pricing = raw.get("pricing")
        if not isinstance(pricing, dict):
            raise Unmappable("no pricing")
        prompt = decimal(pricing.get("prompt"), "pricing.prompt")
        completion = decimal(pricing.get("completion"), "pricing.completion")
        if prompt is None or completion is None:
            raise Unmappable("no pricing.prompt or pricing.completion")
        top = _object(raw.get("top_provider"))
        context = token_count(raw.get("context_length"), "context_length")
        if context is None:
            context = token_count(top.get("context_length"), "top_provider.context_length")
        flags: dict[str, bool] = {}
        architecture = raw.get("architecture")
        inputs = architecture.get("input_modalities") if isinstance(architecture, dict) else None
        if isinstance(inputs, list):
            flags["vision"] = "image" in inputs
            flags["audio"] = "audio" in inputs
        parameters = raw.get("supported_parameters")
        if isinstance(parameters, list):
            flags["function_calling"] = "tools" in parameters
            flags["reasoning"] = "reasoning" in parameters
            flags["structured_output"] = "structured_outputs" in parameters
        expiration = sunset(raw.get("expiration_date"), "expiration_date")
        name = raw.get("name")
        return Entry(
            key=key,
            id=self.model_id(key, raw),
            name=name if isinstance(name, str) and name else key,
            provider=provider,
            context_length=context,
            max_output_tokens=token_count(
                top.get("max_completion_tokens"), "top_provider.max_completion_tokens"
            ),
            input_usd_per_million=per_million(prompt),
            output_usd_per_million=per_million(completion),
            flags=flags,
            deprecated=expiration is not None,
            sunset=expiration,
        )


def _modelsdev_mode(raw: Any) -> str:
    modalities = raw.get("modalities") if isinstance(raw, dict) else None
    outputs = modalities.get("output") if isinstance(modalities, dict) else None
    if not isinstance(outputs, list) or not outputs:
        return "unknown"
    if "text" in outputs:
        return "chat"
    return str(outputs[0])


class _ModelsDev(_Parser):
    """`{provider: {id, name, models: {model: {id, name, attachment, reasoning, tool_call,
    modalities, cost: {input, output}, limit: {context, output}, status}}}}`; cost is USD per
    million tokens."""

    def entries(self, document: Any) -> Iterable[tuple[str, str, Any]]:
        if not isinstance(document, dict):
            raise SourceUnreadable("models.dev's api.json is a JSON object of providers")
        for provider, block in document.items():
            models = block.get("models") if isinstance(block, dict) else None
            if not isinstance(models, dict):
                continue
            for model_key, raw in models.items():
                yield f"{provider}/{model_key}", _modelsdev_mode(raw), raw

    def model_id(self, key: str, raw: Any) -> str | None:
        _, _, name = key.partition("/")
        return valid_id(name)

    def entry(self, key: str, raw: Any) -> Entry:
        if not isinstance(raw, dict):
            raise Unmappable("not a JSON object")
        provider, _, _ = key.partition("/")
        cost = raw.get("cost")
        if not isinstance(cost, dict):
            raise Unmappable("no cost")
        input_cost = decimal(cost.get("input"), "cost.input")
        output_cost = decimal(cost.get("output"), "cost.output")
        if input_cost is None or output_cost is None:
            raise Unmappable("no cost.input or cost.output")
        limit = _object(raw.get("limit"))
        flags: dict[str, bool] = {}
        modalities = raw.get("modalities")
        inputs = modalities.get("input") if isinstance(modalities, dict) else None
        if isinstance(inputs, list):
            flags["vision"] = "image" in inputs
            flags["audio"] = "audio" in inputs
        _flag(flags, raw, "tool_call", "function_calling")
        _flag(flags, raw, "reasoning", "reasoning")
        _flag(flags, raw, "structured_output", "structured_output")
        status = raw.get("status")
        name = raw.get("name")
        return Entry(
            key=key,
            id=self.model_id(key, raw),
            name=name if isinstance(name, str) and name else key,
            provider=provider,
            context_length=token_count(limit.get("context"), "limit.context"),
            max_output_tokens=token_count(limit.get("output"), "limit.output"),
            input_usd_per_million=tidy(input_cost),
            output_usd_per_million=tidy(output_cost),
            flags=flags,
            deprecated=status == "deprecated",
        )


PARSERS: dict[SourceName, _Parser] = {
    SourceName.LITELLM: _LiteLLM(),
    SourceName.OPENROUTER: _OpenRouter(),
    SourceName.MODELSDEV: _ModelsDev(),
}
