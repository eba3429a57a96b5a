"""What a model costs: credit rates derived from USD prices, tier margins and usage estimates."""

from __future__ import annotations

from modelreg.pricing.credits import (
    CreditRates,
    Estimate,
    ZeroPrice,
    apply_margin,
    estimate,
    rates_from_prices,
)

__all__ = [
    "CreditRates",
    "Estimate",
    "ZeroPrice",
    "apply_margin",
    "estimate",
    "rates_from_prices",
]
