"""Keep a meta's credits in step with its prices: computed unless the admin pinned them."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from modelreg.catalog.meta import CREDIT_KEYS, MAX_USD, PRICE_KEYS
from modelreg.config import get_settings
from modelreg.pricing.credits import ZeroPrice, rates_from_prices


def _decimal(meta: dict[str, Any], key: str) -> Decimal | None:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _usable(price: Decimal | None) -> bool:
    return price is not None and price.is_finite() and 0 <= price <= MAX_USD


def fill_credits(
    meta: dict[str, Any], *, touched: Collection[str], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """Return `meta` with creditsPinned and the three credit rates set.

    - An admin who gives any credit rate pins the credits (creditsPinned: true); setting
      creditsPinned: false unpins them and they are computed again.
    - Unpinned credits are computed from the prices on create, when a price changes, or when
      they are missing. A change that touches neither leaves them as they are.
    - Pinned with only the blended rate given: the per-direction rates are the price-derived
      ones scaled so that their mean is the pinned blended rate (the same for both directions
      when the prices are 0).
    Values the schema would reject (wrong types) are left for ModelMeta to report.
    """
    meta = dict(meta)
    given = meta.get("creditsPinned")
    if given is not None and not isinstance(given, bool):
        return meta  # ModelMeta refuses it at meta.creditsPinned
    if "creditsPinned" in touched:
        pinned = given is True
    elif any(key in touched for key in CREDIT_KEYS):
        pinned = True
    elif previous is not None:
        pinned = previous.get("creditsPinned") is True
    else:
        pinned = False
    meta["creditsPinned"] = pinned

    input_usd, output_usd = (_decimal(meta, key) for key in PRICE_KEYS)
    if not (_usable(input_usd) and _usable(output_usd)):
        return meta  # ModelMeta names the bad price
    assert input_usd is not None
    assert output_usd is not None

    credit_usd = get_settings().pricing.credit_usd
    if not pinned:
        prices_changed = previous is None or any(key in touched for key in PRICE_KEYS)
        credits_missing = any(meta.get(key) is None for key in CREDIT_KEYS)
        unpinned_now = "creditsPinned" in touched and previous is not None
        if prices_changed or credits_missing or unpinned_now:
            try:
                rates = rates_from_prices(input_usd, output_usd, credit_usd=credit_usd)
            except ZeroPrice:  # a free model (README: credits)
                for key in CREDIT_KEYS:
                    meta[key] = Decimal(0)
                return meta
            meta["creditsPer1kTokens"] = rates.blended_per_1k
            meta["inputCreditsPer1kTokens"] = rates.input_per_1k
            meta["outputCreditsPer1kTokens"] = rates.output_per_1k
        return meta

    blended = _decimal(meta, "creditsPer1kTokens")
    given_in = _decimal(meta, "inputCreditsPer1kTokens")
    given_out = _decimal(meta, "outputCreditsPer1kTokens")
    if blended is None and given_in is not None and given_out is not None:
        meta["creditsPer1kTokens"] = (given_in + given_out) / 2
    elif blended is not None and blended > 0 and (given_in is None or given_out is None):
        try:
            rates = rates_from_prices(input_usd, output_usd, credit_usd=credit_usd)
            scale = blended / rates.blended_per_1k
            meta["inputCreditsPer1kTokens"] = given_in or _tidy(rates.input_per_1k * scale)
            meta["outputCreditsPer1kTokens"] = given_out or _tidy(rates.output_per_1k * scale)
        except ZeroPrice:
            meta["inputCreditsPer1kTokens"] = given_in or blended
            meta["outputCreditsPer1kTokens"] = given_out or blended
    return meta


def _tidy(value: Decimal) -> Decimal:
    quantized = value.quantize(Decimal("0.000001"))
    if quantized <= 0:
        quantized = Decimal("0.000001")
    return quantized.normalize()
