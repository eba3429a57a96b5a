"""A model's dated prices: which entry of its price history is in force at a moment, and which
change comes next. Pure and in memory (the history itself is `model_prices`, written by
`modelreg.catalog.prices`).

An entry is in force from its `effective_from` until the next entry's. Of two entries with the
same `effective_from`, the later recorded (higher id) wins. Cancelled entries are never in force
and are not passed here.

An entry is `pending` while it is scheduled and the database has not applied it to the model's
`meta` yet: a pending entry whose time has come is in force all the same, so every instance
serves it at its boundary, before (and whether or not) the scheduler has written it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

# The meta keys a price entry holds (USD per million tokens, then credits per 1k tokens).
USD_KEYS = ("inputCostUsdPerMillionTokens", "outputCostUsdPerMillionTokens")
CREDIT_KEYS = ("creditsPer1kTokens", "inputCreditsPer1kTokens", "outputCreditsPer1kTokens")
PRICE_META_KEYS = (*USD_KEYS, *CREDIT_KEYS, "creditsPinned")


@dataclass(frozen=True)
class Prices:
    """USD per million tokens and credits per 1k tokens, exact."""

    input_usd: Decimal
    output_usd: Decimal
    credits_per_1k: Decimal
    input_credits_per_1k: Decimal
    output_credits_per_1k: Decimal
    credits_pinned: bool = False

    @classmethod
    def of_meta(cls, meta: dict[str, Any]) -> Prices:
        """The prices of a (valid) meta; rows of the legacy schema have only the blended rate."""
        blended = _dec(meta["creditsPer1kTokens"])
        return cls(
            input_usd=_dec(meta["inputCostUsdPerMillionTokens"]),
            output_usd=_dec(meta["outputCostUsdPerMillionTokens"]),
            credits_per_1k=blended,
            input_credits_per_1k=_dec(meta.get("inputCreditsPer1kTokens", blended)),
            output_credits_per_1k=_dec(meta.get("outputCreditsPer1kTokens", blended)),
            credits_pinned=meta.get("creditsPinned") is True,
        )

    @classmethod
    def of_row(cls, row: Any) -> Prices:
        """The prices of a `model_prices` row (its columns are named as these fields)."""
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})

    def columns(self) -> dict[str, Any]:
        """The `model_prices` columns of these prices."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def as_meta(self) -> dict[str, Any]:
        """The meta keys these prices set."""
        return {
            "inputCostUsdPerMillionTokens": self.input_usd,
            "outputCostUsdPerMillionTokens": self.output_usd,
            "creditsPer1kTokens": self.credits_per_1k,
            "inputCreditsPer1kTokens": self.input_credits_per_1k,
            "outputCreditsPer1kTokens": self.output_credits_per_1k,
            "creditsPinned": self.credits_pinned,
        }


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def same_prices(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """Whether two metas charge the same (numbers compared by value; 2 == 2.0)."""
    if before is None or after is None:
        return before is after
    return all(before.get(key) == after.get(key) for key in PRICE_META_KEYS)


@dataclass(frozen=True)
class PriceEntry:
    """One entry of a model's price history."""

    id: int
    effective_from: datetime
    prices: Prices
    pending: bool = False

    @property
    def at(self) -> float:
        return self.effective_from.timestamp()


def ordered(entries: Sequence[PriceEntry]) -> tuple[PriceEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.effective_from, e.id)))


def in_force(entries: Sequence[PriceEntry], moment: float) -> PriceEntry | None:
    """The entry in force at `moment` (epoch seconds) of `entries` in `ordered` order; None
    before the first."""
    index = bisect.bisect_right([e.at for e in entries], moment)
    return entries[index - 1] if index else None


def next_change(entries: Sequence[PriceEntry], moment: float) -> PriceEntry | None:
    """The first entry that takes effect after `moment` (epoch seconds)."""
    for entry in entries:
        if entry.at > moment:
            return entry
    return None
