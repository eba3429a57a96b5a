"""The command that fixes a row `db verify` reports: a merge patch of its meta, as a
`modelreg model patch` command (from 0007_admin on) or an SQL UPDATE (before it).

A value follows from the row where it can (the display name from `name`, at least the `text`
capability, credits computed from the prices, no maxOutputTokens rather than an impossible one;
the credits of a row from the old table pinned, so that the patch does not compute them again);
a fact only the operator knows (a context length, a price, a tier) is a `<placeholder>`.
"""

from __future__ import annotations

import json
import shlex
from decimal import Decimal
from typing import Any

from modelreg.access.rules import TierRestrictionMode
from modelreg.catalog.meta import CREDIT_KEYS, PRICE_KEYS
from modelreg.config import get_settings
from modelreg.db import jsonb

PLACEHOLDER_HINTS = {
    "contextLength": "<contextLength: tokens, a positive integer>",
    "inputCostUsdPerMillionTokens": "<inputCostUsdPerMillionTokens: USD>",
    "outputCostUsdPerMillionTokens": "<outputCostUsdPerMillionTokens: USD>",
}
DEFAULTS: dict[str, Any] = {
    "description": "",
    "version": "",
    "internalNotes": "",
    "complianceTags": [],
    "providerMetadata": {},
    "creditsPinned": False,
}


WHOLE_META = "<a whole meta object, as modelreg schema meta describes it>"


def meta_patch(
    model_id: str, name: str, meta: Any, error_paths: list[str], *, computes_credits: bool
) -> dict[str, Any] | None:
    """A merge patch over `meta` that makes it valid (None values remove a key); None when
    meta is not even an object (a whole new one is needed).

    `computes_credits`: the patch goes through modelreg's service, which computes unpinned
    credits from the prices (an SQL UPDATE does not)."""
    if not isinstance(meta, dict):
        return None
    settings = get_settings()
    patch: dict[str, Any] = {}
    for path in dict.fromkeys(p.split(".")[0] for p in error_paths):
        value = meta.get(path)
        if path == "capabilities":
            known = (
                [c for c in value if c in settings.capabilities] if isinstance(value, list) else []
            )
            patch[path] = list(dict.fromkeys(known)) or ["text"]
        elif path == "displayName":
            patch[path] = (name or model_id)[:255]
        elif path == "maxOutputTokens":
            patch[path] = None
        elif path in CREDIT_KEYS:
            if computes_credits and any(_positive(meta.get(k)) for k in PRICE_KEYS):
                # Unpinned credits are computed again from the prices.
                patch["creditsPinned"] = False
                patch.update(dict.fromkeys(CREDIT_KEYS))
            else:
                patch[path] = f"<{path}: credits, a positive number>"
        elif path == "tierRestrictionMode":
            lowered = str(value).strip().lower() if isinstance(value, str) else ""
            modes = [m.value for m in TierRestrictionMode]
            patch[path] = lowered if lowered in modes else f"<one of: {', '.join(modes)}>"
        elif path == "requiredTier":
            patch[path] = f"<one of: {', '.join(settings.tiers)}>"
        elif path == "allowedTiers":
            known = [t for t in value if t in settings.tiers] if isinstance(value, list) else []
            patch[path] = known or [f"<tiers, from: {', '.join(settings.tiers)}>"]
        elif path in DEFAULTS:
            patch[path] = DEFAULTS[path]
        else:
            patch[path] = PLACEHOLDER_HINTS.get(path, f"<{path}>")
    if computes_credits and "creditsPinned" not in meta and "creditsPinned" not in patch:
        # A row from the old table: its credits were set by someone, not computed. Pinned, they
        # stay as they are; unpinned, any patch would compute them again from the prices.
        patch["creditsPinned"] = True
    return patch


def _positive(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value > 0


def needs_input(patch: dict[str, Any] | None) -> bool:
    """Whether the patch holds a placeholder the operator must fill in."""
    return patch is None or "<" in json.dumps(patch, default=str)


def command(model_id: str, patch: dict[str, Any] | None, *, cli: bool) -> str:
    """The command that applies `patch` to the meta of `model_id`."""
    if patch is None:
        if cli:
            return (
                f"modelreg model patch {shlex.quote(model_id)}"
                f" --data '{{\"meta\": {WHOLE_META}}}' --reason 'fix what db verify reported'"
            )
        return f"UPDATE models SET meta = '{WHOLE_META}' WHERE id = {_sql_literal(model_id)};"
    if cli:
        body = jsonb.dumps({"meta": patch})
        return (
            f"modelreg model patch {shlex.quote(model_id)} --data {shlex.quote(body)}"
            " --reason 'fix what db verify reported'"
        )
    kept = {k: v for k, v in patch.items() if v is not None}
    removed = [k for k, v in patch.items() if v is None]
    expression = "meta"
    if kept:
        expression = f"(meta || {_sql_literal(jsonb.dumps(kept))}::jsonb)"
    if removed:
        expression += " - ARRAY[" + ", ".join(_sql_literal(k) for k in removed) + "]"
    return f"UPDATE models SET meta = {expression} WHERE id = {_sql_literal(model_id)};"


def backfill_command(model_id: str) -> str:
    """A row whose meta is still NULL (0002_expand to 0004_indexes): what the backfill writes."""
    literal = _sql_literal(model_id)
    return f"UPDATE models SET meta = modelreg_backfill_meta(models) WHERE id = {literal};"


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
