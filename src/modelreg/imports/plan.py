"""An import plan (a dry run): what applying an upstream list would change in the catalog.

Groups (each item names the model `id`):
- add: entries no model is linked to; created unavailable by default, credits from prices.
- change: linked models whose upstream facts differ, field by field (prices also in %).
- deprecate: linked models upstream deprecates: mark legacy, with the sunset when it is ahead.
- vanished: models this source owns (meta.importSource) that it no longer lists: proposed
  legacy, never archived.
- kept: differences an admin locked (meta.importLocks, pinned credits): never changed.
- skipped: entries not taken (not chat, duplicates, archived models, deprecated new ones).
- unmappable: entries that cannot be mapped, with the reason.

A model is linked to an entry by its provenance (meta.importSource = {source, key}), else by
`--id-map`, else by an equal id. A linked model without differences is left as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from modelreg.catalog.meta import CREDIT_KEYS, PRICE_KEYS
from modelreg.catalog.service import merge_patch, validated_meta
from modelreg.config import get_settings
from modelreg.exceptions import ValidationFailed
from modelreg.imports.sources import MANAGED_CAPABILITIES, Entry, Parsed, SourceName

PLAN_FORMAT = "modelreg-import-plan/1"
GROUPS = ("add", "change", "deprecate", "vanished", "kept", "skipped", "unmappable")
ACTIONS = ("add", "change", "deprecate", "vanished")  # the groups apply changes the catalog for
SOURCE_KEY = "importSource"
LOCKS_KEY = "importLocks"


@dataclass(frozen=True)
class CatalogRow:
    id: str
    version: int
    provider: str
    is_legacy: bool
    is_archived: bool
    meta: Mapping[str, Any]


def provenance(meta: Mapping[str, Any], source: SourceName) -> str | None:
    """The key of `source` this model came from, if it did."""
    origin = meta.get(SOURCE_KEY)
    if isinstance(origin, dict) and origin.get("source") == source.value:
        key = origin.get("key")
        return key if isinstance(key, str) else None
    return None


def change_pct(before: Any, after: Any) -> Decimal | None:
    """The change in %, to 0.01; None when there was no price before (from 0 or absent)."""
    if not isinstance(before, int | Decimal) or not isinstance(after, int | Decimal):
        return None
    if before == 0:
        return Decimal(0) if after == 0 else None
    return ((Decimal(after) - Decimal(before)) * 100 / Decimal(before)).quantize(Decimal("0.01"))


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, int | Decimal) and not isinstance(before, bool):
        return isinstance(after, int | Decimal) and Decimal(before) == Decimal(after)
    return bool(before == after)


def _capabilities(current: Sequence[str], flags: Mapping[str, bool]) -> list[str]:
    """The catalog's list with the stated flags applied (order kept, new ones appended)."""
    result = [c for c in current if not (c in flags and not flags[c])]
    result += [c for c in MANAGED_CAPABILITIES if flags.get(c) and c not in result]
    return result


def _upstream(entry: Entry, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The meta keys the entry states, in modelreg's terms."""
    facts: dict[str, Any] = {}
    if entry.context_length is not None:
        facts["contextLength"] = entry.context_length
    if entry.max_output_tokens is not None:
        facts["maxOutputTokens"] = entry.max_output_tokens
    facts["inputCostUsdPerMillionTokens"] = entry.input_usd_per_million
    facts["outputCostUsdPerMillionTokens"] = entry.output_usd_per_million
    if entry.flags:
        current = meta.get("capabilities")
        facts["capabilities"] = _capabilities(
            current if isinstance(current, list) else [], entry.flags
        )
    return facts


def _future(day: date | None) -> bool:
    return day is not None and day >= datetime.now(UTC).date()


def _errors(exc: ValidationFailed) -> str:
    return "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors)


class _Planner:
    def __init__(
        self,
        parsed: Parsed,
        catalog: Sequence[CatalogRow],
        *,
        id_map: Mapping[str, str],
        providers: Collection[str],
        only: Collection[str],
    ):
        self.source = parsed.source
        self.parsed = parsed
        self.id_map = id_map
        self.providers = set(providers)
        self.only = set(only)
        self.by_id = {row.id: row for row in catalog}
        self.by_key: dict[str, CatalogRow] = {}
        for row in catalog:
            key = provenance(row.meta, self.source)
            if key is not None:
                self.by_key[key] = row
        self.groups: dict[str, list[dict[str, Any]]] = {group: [] for group in GROUPS}
        self.matched: set[str] = set()  # ids of the models an entry is linked to in this run
        self.settings = get_settings()

    def _wanted(self, model_id: str | None, provider: str | None) -> bool:
        if self.only and model_id not in self.only:
            return False
        return not (self.providers and provider is not None and provider not in self.providers)

    def run(self) -> dict[str, list[dict[str, Any]]]:
        for item in self.parsed.skipped:
            if self._wanted(self.id_map.get(item["key"], item["id"]), None):
                self.groups["skipped"].append(dict(item))
        for item in self.parsed.unmappable:
            self.groups["unmappable"].append(dict(item))
        chosen = self._resolve()
        for model_id, entry in chosen:
            row = self.by_key.get(entry.key) or self.by_id.get(model_id)
            if row is not None:
                self.matched.add(row.id)
            if row is None:
                self._add(model_id, entry)
            elif row.is_archived:
                self._skip(entry, model_id, "archived in the catalog")
            else:
                self._compare(row, entry)
        self._vanished()
        return self.groups

    def _skip(self, entry: Entry, model_id: str | None, reason: str) -> None:
        self.groups["skipped"].append(
            {"key": entry.key, "id": model_id, "mode": "chat", "reason": reason}
        )

    def _unmappable(self, entry: Entry, model_id: str | None, reason: str) -> None:
        self.groups["unmappable"].append({"key": entry.key, "id": model_id, "reason": reason})

    def _resolve(self) -> list[tuple[str, Entry]]:
        """Each wanted entry with its model id; one entry per id (duplicates reported)."""
        by_id: dict[str, list[Entry]] = {}
        for entry in self.parsed.entries:
            model_id = self.id_map.get(entry.key, entry.id)
            if not self._wanted(model_id, entry.provider):
                continue
            if model_id is None:
                self._unmappable(
                    entry, None, "the key gives no valid model id (map it with --id-map)"
                )
                continue
            by_id.setdefault(model_id, []).append(entry)
        chosen: list[tuple[str, Entry]] = []
        for model_id, entries in by_id.items():
            owner = self.by_id.get(model_id)
            owned = provenance(owner.meta, self.source) if owner is not None else None

            def rank(e: Entry, owner: CatalogRow | None = owner, owned: str | None = owned) -> Any:
                return (
                    e.key != owned,
                    e.key not in self.id_map,
                    owner is not None and e.provider != owner.provider,
                    "/" in e.key,
                )

            entries.sort(key=rank)
            first = entries[0]
            clear = len(entries) == 1 or rank(first) < rank(entries[1])
            rivals = [e for e in entries[1:] if e.facts() != first.facts()]
            if not clear and rivals:
                for entry in entries:
                    others = ", ".join(e.key for e in entries if e is not entry)
                    self._unmappable(
                        entry,
                        model_id,
                        f"other entries ({others}) map to {model_id!r} with other facts"
                        " (choose with --provider or --id-map)",
                    )
                continue
            chosen.append((model_id, first))
            for other in entries[1:]:
                if other.facts() == first.facts():
                    self._skip(other, model_id, f"duplicate of {first.key}")
                else:
                    self._unmappable(
                        other,
                        model_id,
                        f"another entry ({first.key}) maps to {model_id!r} with other facts"
                        " (choose with --provider or --id-map)",
                    )
        return chosen

    def _add(self, model_id: str, entry: Entry) -> None:
        if entry.deprecated:
            self._skip(entry, model_id, "deprecated upstream")
            return
        if entry.context_length is None:
            self._unmappable(entry, model_id, "no context length upstream")
            return
        tiers = self.settings.tiers
        meta: dict[str, Any] = {
            "displayName": entry.name[:255],
            "capabilities": ["text", *(c for c in MANAGED_CAPABILITIES if entry.flags.get(c))],
            "contextLength": entry.context_length,
            "inputCostUsdPerMillionTokens": entry.input_usd_per_million,
            "outputCostUsdPerMillionTokens": entry.output_usd_per_million,
            "requiredTier": self.settings.imports.add_required_tier or tiers[-1],
            "tierRestrictionMode": "minimum",
            "allowedTiers": [],
            SOURCE_KEY: {"source": self.source.value, "key": entry.key},
        }
        if entry.max_output_tokens is not None:
            meta["maxOutputTokens"] = entry.max_output_tokens
        try:
            validated_meta(meta, touched=list(meta))
        except ValidationFailed as exc:
            self._unmappable(entry, model_id, _errors(exc))
            return
        if len(entry.provider) > 100:
            self._unmappable(entry, model_id, "provider longer than 100 characters")
            return
        self.groups["add"].append(
            {
                "id": model_id,
                "key": entry.key,
                "name": entry.name[:255],
                "provider": entry.provider,
                "is_available": self.settings.imports.add_available,
                "meta": meta,
            }
        )

    def _compare(self, row: CatalogRow, entry: Entry) -> None:
        meta = row.meta
        locks = meta.get(LOCKS_KEY)
        locked = set(locks) if isinstance(locks, list) else set()
        patch: dict[str, Any] = {}
        fields: list[dict[str, Any]] = []
        for key, after in _upstream(entry, meta).items():
            before = meta.get(key)
            if _same(before, after):
                continue
            if key in locked:
                self.groups["kept"].append(
                    {
                        "id": row.id,
                        "key": entry.key,
                        "field": f"meta.{key}",
                        "current": before,
                        "upstream": after,
                        "why": LOCKS_KEY,
                    }
                )
                continue
            patch[key] = after
            diff: dict[str, Any] = {"field": f"meta.{key}", "before": before, "after": after}
            if key in PRICE_KEYS:
                diff["change_pct"] = change_pct(before, after)
            fields.append(diff)
        if entry.sunset is not None and row.is_legacy and _future(entry.sunset):
            sunset = entry.sunset.isoformat()
            if str(meta.get("sunsetDate"))[:10] != sunset and "sunsetDate" not in locked:
                patch["sunsetDate"] = sunset
                fields.append(
                    {"field": "meta.sunsetDate", "before": meta.get("sunsetDate"), "after": sunset}
                )
        if patch:
            if meta.get(SOURCE_KEY) != {"source": self.source.value, "key": entry.key}:
                patch[SOURCE_KEY] = {"source": self.source.value, "key": entry.key}
            try:
                validated_meta(
                    merge_patch(dict(meta), patch), touched=list(patch), previous=dict(meta)
                )
            except ValidationFailed as exc:
                self._unmappable(entry, row.id, _errors(exc))
                return
            if meta.get("creditsPinned") is True and any(k in patch for k in PRICE_KEYS):
                self.groups["kept"].append(
                    {
                        "id": row.id,
                        "key": entry.key,
                        "field": "meta." + CREDIT_KEYS[0],
                        "current": meta.get(CREDIT_KEYS[0]),
                        "upstream": None,
                        "why": "creditsPinned",
                    }
                )
            self.groups["change"].append(
                {
                    "id": row.id,
                    "key": entry.key,
                    "version": row.version,
                    "fields": fields,
                    "patch": {"meta": patch},
                }
            )
        if entry.deprecated and not row.is_legacy and "sunsetDate" not in locked:
            self._deprecate(row, entry)

    def _deprecate(self, row: CatalogRow, entry: Entry) -> None:
        ahead = _future(entry.sunset)
        when = f" on {entry.sunset.isoformat()}" if entry.sunset is not None else ""
        replacement = self.id_map.get(entry.replacement or "", entry.replacement)
        if replacement is not None and replacement not in self.by_id:
            replacement = None
        self.groups["deprecate"].append(
            {
                "id": row.id,
                "key": entry.key,
                "version": row.version,
                "sunsetDate": entry.sunset.isoformat() if ahead and entry.sunset else None,
                "replacement": replacement,
                "notice": f"deprecated by {self.source.value}{when}",
            }
        )

    def _vanished(self) -> None:
        listed = {e.key for e in self.parsed.entries}
        listed |= {i["key"] for i in self.parsed.skipped}
        listed |= {i["key"] for i in self.parsed.unmappable}
        for key, row in sorted(self.by_key.items()):
            if key in listed or row.id in self.matched or row.is_legacy or row.is_archived:
                continue
            if self.only and row.id not in self.only:
                continue
            if self.providers and row.provider not in self.providers:
                continue
            self.groups["vanished"].append(
                {
                    "id": row.id,
                    "key": key,
                    "version": row.version,
                    "notice": f"no longer listed by {self.source.value}",
                }
            )


def make_plan(
    parsed: Parsed,
    catalog: Sequence[CatalogRow],
    *,
    revision: int,
    id_map: Mapping[str, str] | None = None,
    providers: Collection[str] = (),
    only: Collection[str] = (),
    origin: str | None = None,
) -> dict[str, Any]:
    groups = _Planner(parsed, catalog, id_map=id_map or {}, providers=providers, only=only).run()
    return {
        "format": PLAN_FORMAT,
        "source": parsed.source.value,
        "origin": origin,
        "created_at": datetime.now(UTC).isoformat(),
        "revision": revision,
        "summary": {group: len(items) for group, items in groups.items()},
        **groups,
    }


def has_changes(plan: Mapping[str, Any]) -> bool:
    return any(plan.get(group) for group in ACTIONS)
