"""Credit arithmetic: credit rates from USD list prices, per-tier margins and usage estimates.

Prices are US dollars per million tokens, as in a model's `meta`. All arithmetic is Decimal, in a
private context of 60 significant digits (the caller's Decimal context does not matter).

Credit rates
    A credit is worth ``credit_usd`` US dollars (by default ``0.001``). The credits per 1,000
    tokens in each direction are::

        input_credits_per_1k  = input_usd_per_million  / 1000 / credit_usd
        output_credits_per_1k = output_usd_per_million / 1000 / credit_usd

    and the blended rate, stored as ``creditsPer1kTokens``, is their mean::

        creditsPer1kTokens = (input_credits_per_1k + output_credits_per_1k) / 2

    With ``credit_usd = 0.001`` this is ``(input_usd_per_million + output_usd_per_million) / 2``,
    the formula of the shipped seed catalog, which it reproduces exactly. The blended rate is
    computed from the exact per-direction rates, not from their rounded values.

    Each per-1k rate is rounded to 6 decimal places, half to even, and written without trailing
    zeros (``5.000000`` becomes ``5``, ``0.075000`` becomes ``0.075``). A single direction may
    be free (a rate of 0), but the blended rate must be positive: when both prices are 0, or
    they are so small that the blended rate rounds to 0, `ZeroPrice` is raised. Such a model
    must have its ``creditsPer1kTokens`` given explicitly rather than derived.

Tier margins
    A tier may charge a margin over the base rate: a Decimal ``margin >= 0``, where ``0.25``
    means +25%. The tier's rate per 1k tokens is ``base * (1 + margin)``, for each of the input,
    output and blended rates, rounded as above (6 places, half to even, no trailing zeros).

Estimates
    For a request of ``input_tokens`` and ``output_tokens``, each direction costs::

        credits = tokens / 1000 * credits_per_1k * (1 + margin)
        usd     = tokens / 1_000_000 * usd_per_million

    Credits are rounded up (toward positive infinity) to 4 decimal places per direction, so an
    estimate never charges less than the exact price: the rounding, at most 0.0001 credit per
    direction, is in the provider's favour. US dollars are the provider's list price with no
    margin, rounded to 6 decimal places, half to even. The totals are the sums of the rounded
    per-direction amounts. Token counts must be non-negative integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

__all__ = [
    "CREDIT_PLACES",
    "DEFAULT_CREDIT_USD",
    "RATE_PLACES",
    "USD_PLACES",
    "CreditRates",
    "Estimate",
    "ZeroPrice",
    "apply_margin",
    "estimate",
    "rates_from_prices",
]

DEFAULT_CREDIT_USD = Decimal("0.001")
"""What one credit is worth in US dollars unless configured otherwise."""

RATE_PLACES = 6
"""Decimal places of a credits-per-1k rate."""
CREDIT_PLACES = 4
"""Decimal places of an estimated credit amount (rounded up)."""
USD_PLACES = 6
"""Decimal places of an estimated US dollar amount (rounded half to even)."""

_RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
_CREDIT_QUANTUM = Decimal(1).scaleb(-CREDIT_PLACES)
_USD_QUANTUM = Decimal(1).scaleb(-USD_PLACES)
_ONE = Decimal(1)
_THOUSAND = Decimal(1000)
_MILLION = Decimal(1_000_000)

_CONTEXT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class ZeroPrice(ValueError):
    """The prices give no positive blended credit rate; the credits must be given explicitly."""


@dataclass(frozen=True)
class CreditRates:
    """Credits per 1,000 tokens: input, output and their mean."""

    input_per_1k: Decimal
    output_per_1k: Decimal
    blended_per_1k: Decimal


@dataclass(frozen=True)
class Estimate:
    """What a request costs: credits charged (with margin) and the provider's price in USD."""

    input_tokens: int
    output_tokens: int
    credits: Decimal
    usd: Decimal
    input_credits: Decimal
    output_credits: Decimal
    input_usd: Decimal
    output_usd: Decimal


def _decimal(name: str, value: Decimal, *, positive: bool = False) -> Decimal:
    """`value` checked to be a finite Decimal, >= 0 (or > 0 when `positive`)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _tokens(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _rate(value: Decimal) -> Decimal:
    """Rounded to 6 places, half to even, without trailing zeros (and never in exponent form)."""
    rounded = value.quantize(_RATE_QUANTUM, rounding=ROUND_HALF_EVEN)
    if rounded == rounded.to_integral_value():
        return rounded.quantize(_ONE)
    return rounded.normalize()


def rates_from_prices(
    input_usd_per_million: Decimal,
    output_usd_per_million: Decimal,
    *,
    credit_usd: Decimal,
) -> CreditRates:
    """The credit rates of a model priced at the given USD per million tokens, where one credit
    is worth `credit_usd` dollars. Raises `ZeroPrice` when the blended rate would be 0 and
    ValueError for a negative or non-finite price or a non-positive `credit_usd`."""
    _decimal("input_usd_per_million", input_usd_per_million)
    _decimal("output_usd_per_million", output_usd_per_million)
    _decimal("credit_usd", credit_usd, positive=True)
    with localcontext(_CONTEXT):
        exact_input = input_usd_per_million / _THOUSAND / credit_usd
        exact_output = output_usd_per_million / _THOUSAND / credit_usd
        blended = _rate((exact_input + exact_output) / 2)
        if blended == 0:
            raise ZeroPrice(
                f"prices {input_usd_per_million} / {output_usd_per_million} USD per million"
                " tokens give no positive credit rate; give creditsPer1kTokens explicitly"
            )
        return CreditRates(
            input_per_1k=_rate(exact_input),
            output_per_1k=_rate(exact_output),
            blended_per_1k=blended,
        )


def apply_margin(rates: CreditRates, margin: Decimal) -> CreditRates:
    """`rates` with a tier margin added: each rate times (1 + `margin`), rounded like a rate.
    Raises ValueError for a negative or non-finite margin."""
    _decimal("margin", margin)
    with localcontext(_CONTEXT):
        factor = _ONE + margin
        return CreditRates(
            input_per_1k=_rate(rates.input_per_1k * factor),
            output_per_1k=_rate(rates.output_per_1k * factor),
            blended_per_1k=_rate(rates.blended_per_1k * factor),
        )


def estimate(
    *,
    input_usd_per_million: Decimal,
    output_usd_per_million: Decimal,
    input_credits_per_1k: Decimal,
    output_credits_per_1k: Decimal,
    margin: Decimal,
    input_tokens: int,
    output_tokens: int,
) -> Estimate:
    """The cost of a request of `input_tokens` and `output_tokens`.

    Credits per direction are tokens / 1000 * rate * (1 + `margin`), rounded up to 4 places;
    USD per direction is tokens / 1,000,000 * price, without margin, rounded half to even to 6
    places. The totals are the sums of the rounded parts. Raises ValueError naming the argument
    for a negative token count, price, rate or margin.
    """
    _tokens("input_tokens", input_tokens)
    _tokens("output_tokens", output_tokens)
    _decimal("input_usd_per_million", input_usd_per_million)
    _decimal("output_usd_per_million", output_usd_per_million)
    _decimal("input_credits_per_1k", input_credits_per_1k)
    _decimal("output_credits_per_1k", output_credits_per_1k)
    _decimal("margin", margin)
    with localcontext(_CONTEXT):
        factor = _ONE + margin

        def credits(tokens: int, rate: Decimal) -> Decimal:
            exact = Decimal(tokens) / _THOUSAND * rate * factor
            return exact.quantize(_CREDIT_QUANTUM, rounding=ROUND_CEILING)

        def usd(tokens: int, price: Decimal) -> Decimal:
            exact = Decimal(tokens) / _MILLION * price
            return exact.quantize(_USD_QUANTUM, rounding=ROUND_HALF_EVEN)

        input_credits = credits(input_tokens, input_credits_per_1k)
        output_credits = credits(output_tokens, output_credits_per_1k)
        input_usd = usd(input_tokens, input_usd_per_million)
        output_usd = usd(output_tokens, output_usd_per_million)
        return Estimate(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            credits=input_credits + output_credits,
            usd=input_usd + output_usd,
            input_credits=input_credits,
            output_credits=output_credits,
            input_usd=input_usd,
            output_usd=output_usd,
        )
