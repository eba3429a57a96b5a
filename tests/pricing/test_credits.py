"""Credit arithmetic: rates from USD prices, margins, estimates and their rounding."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.catalog.seed import load_seed_models
from modelreg.pricing.credits import (
    DEFAULT_CREDIT_USD,
    CreditRates,
    Estimate,
    ZeroPrice,
    apply_margin,
    estimate,
    rates_from_prices,
)

D = Decimal


def _estimate(**overrides: Any) -> Estimate:
    """An estimate at gpt-4.1-like prices (2 / 8 USD per million tokens), no margin."""
    arguments: dict[str, Any] = {
        "input_usd_per_million": D("2"),
        "output_usd_per_million": D("8"),
        "input_credits_per_1k": D("2"),
        "output_credits_per_1k": D("8"),
        "margin": D("0"),
        "input_tokens": 1500,
        "output_tokens": 500,
    }
    arguments.update(overrides)
    return estimate(**arguments)


def _assert_all_decimal(value: CreditRates | Estimate) -> None:
    for name, field in vars(value).items():
        if name.endswith("_tokens"):
            assert type(field) is int, name
        else:
            assert type(field) is Decimal, name


# Rates from prices.


def test_the_seed_catalog_reproduces_exactly() -> None:
    models = load_seed_models()
    assert models

    for model in models:
        meta = model.meta
        rates = rates_from_prices(
            meta.input_cost_usd_per_million_tokens,
            meta.output_cost_usd_per_million_tokens,
            credit_usd=DEFAULT_CREDIT_USD,
        )
        assert rates.blended_per_1k == meta.credits_per_1k_tokens, model.id
        assert rates.input_per_1k == meta.input_cost_usd_per_million_tokens, model.id
        assert rates.output_per_1k == meta.output_cost_usd_per_million_tokens, model.id


def test_default_credit_is_a_tenth_of_a_cent() -> None:
    assert D("0.001") == DEFAULT_CREDIT_USD


def test_sub_cent_prices_keep_their_digits() -> None:
    rates = rates_from_prices(D("0.075"), D("0.3"), credit_usd=D("0.001"))

    assert rates == CreditRates(
        input_per_1k=D("0.075"), output_per_1k=D("0.3"), blended_per_1k=D("0.1875")
    )
    assert str(rates.input_per_1k) == "0.075"
    _assert_all_decimal(rates)


def test_whole_rates_have_no_trailing_zeros_or_exponent() -> None:
    rates = rates_from_prices(D("5.000000"), D("500"), credit_usd=D("0.001"))

    assert str(rates.input_per_1k) == "5"
    assert str(rates.output_per_1k) == "500"
    assert str(rates.blended_per_1k) == "252.5"


def test_another_credit_value_scales_the_rates() -> None:
    rates = rates_from_prices(D("2"), D("8"), credit_usd=D("0.01"))

    assert rates == CreditRates(
        input_per_1k=D("0.2"), output_per_1k=D("0.8"), blended_per_1k=D("0.5")
    )


def test_rates_round_to_six_places_half_to_even() -> None:
    # 1 / 1000 / 0.003 = 0.333333..., 2 / 1000 / 0.003 = 0.666666...; the mean is exact.
    thirds = rates_from_prices(D("1"), D("2"), credit_usd=D("0.003"))
    assert thirds == CreditRates(
        input_per_1k=D("0.333333"), output_per_1k=D("0.666667"), blended_per_1k=D("0.5")
    )
    # Exactly halfway at the 7th place: to the even neighbour.
    assert rates_from_prices(D("0.0000005"), D("0.0000015"), credit_usd=D("0.001")) == (
        CreditRates(input_per_1k=D("0"), output_per_1k=D("0.000002"), blended_per_1k=D("0.000001"))
    )


def test_rates_ignore_the_callers_decimal_context() -> None:
    expected = rates_from_prices(D("1"), D("2"), credit_usd=D("0.003"))
    with localcontext() as context:
        context.prec = 3
        assert rates_from_prices(D("1"), D("2"), credit_usd=D("0.003")) == expected


def test_one_free_direction_is_allowed() -> None:
    rates = rates_from_prices(D("0"), D("10"), credit_usd=D("0.001"))

    assert rates == CreditRates(input_per_1k=D("0"), output_per_1k=D("10"), blended_per_1k=D("5"))


@pytest.mark.parametrize(("input_usd", "output_usd"), [(D("0"), D("0")), (D("0"), D("0.0000009"))])
def test_zero_prices_raise(input_usd: Decimal, output_usd: Decimal) -> None:
    with pytest.raises(ZeroPrice, match="give creditsPer1kTokens explicitly") as caught:
        rates_from_prices(input_usd, output_usd, credit_usd=D("0.001"))
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((D("-1"), D("1"), D("0.001")), "input_usd_per_million must be >= 0"),
        ((D("1"), D("NaN"), D("0.001")), "output_usd_per_million must be finite"),
        ((D("1"), D("1"), D("0")), "credit_usd must be > 0"),
        ((D("1"), D("Infinity"), D("0.001")), "output_usd_per_million must be finite"),
    ],
)
def test_invalid_prices_raise(arguments: tuple[Decimal, Decimal, Decimal], message: str) -> None:
    input_usd, output_usd, credit_usd = arguments
    with pytest.raises(ValueError, match=message):
        rates_from_prices(input_usd, output_usd, credit_usd=credit_usd)


def test_a_float_price_is_refused() -> None:
    with pytest.raises(TypeError, match="must be a Decimal"):
        rates_from_prices(0.1, D("1"), credit_usd=D("0.001"))  # type: ignore[arg-type]


# Margins.


def test_a_quarter_margin_on_five_is_six_and_a_quarter() -> None:
    base = CreditRates(input_per_1k=D("2"), output_per_1k=D("8"), blended_per_1k=D("5"))

    with_margin = apply_margin(base, D("0.25"))

    assert with_margin == CreditRates(
        input_per_1k=D("2.5"), output_per_1k=D("10"), blended_per_1k=D("6.25")
    )
    assert str(with_margin.blended_per_1k) == "6.25"
    _assert_all_decimal(with_margin)


def test_no_margin_leaves_the_rates_as_they_are() -> None:
    base = rates_from_prices(D("0.075"), D("0.3"), credit_usd=D("0.001"))

    assert apply_margin(base, D("0")) == base


def test_a_margin_rounds_like_a_rate() -> None:
    base = CreditRates(input_per_1k=D("0.000001"), output_per_1k=D("1"), blended_per_1k=D("0.5"))

    # 0.000001 * 1.3333 = 0.0000013333 -> 0.000001; 1.3333 stays; 0.5 * 1.3333 = 0.66665.
    assert apply_margin(base, D("0.3333")) == CreditRates(
        input_per_1k=D("0.000001"), output_per_1k=D("1.3333"), blended_per_1k=D("0.66665")
    )


@pytest.mark.parametrize(("margin", "message"), [(D("-0.1"), ">= 0"), (D("NaN"), "finite")])
def test_an_invalid_margin_raises(margin: Decimal, message: str) -> None:
    base = CreditRates(input_per_1k=D("1"), output_per_1k=D("1"), blended_per_1k=D("1"))
    with pytest.raises(ValueError, match=f"margin must be {message}"):
        apply_margin(base, margin)


# Estimates.


def test_estimate_at_gpt_4_1_prices() -> None:
    result = _estimate()

    assert result == Estimate(
        input_tokens=1500,
        output_tokens=500,
        credits=D("7"),
        usd=D("0.007"),
        input_credits=D("3"),
        output_credits=D("4"),
        input_usd=D("0.003"),
        output_usd=D("0.004"),
    )
    _assert_all_decimal(result)


def test_estimate_applies_the_margin_to_credits_only() -> None:
    result = _estimate(margin=D("0.25"))

    assert result.input_credits == D("3.75")
    assert result.output_credits == D("5")
    assert result.credits == D("8.75")
    assert result.usd == D("0.007")


def test_credits_round_up_to_four_places() -> None:
    # 1 token at 0.01 credits per 1k is 0.00001 credits: charged as 0.0001.
    result = _estimate(input_credits_per_1k=D("0.01"), input_tokens=1, output_tokens=0)

    assert result.input_credits == D("0.0001")
    assert result.output_credits == D("0")
    assert result.credits == D("0.0001")


def test_usd_rounds_half_to_even_to_six_places() -> None:
    # 1 token at 0.5 USD per million is 0.0000005 USD: halfway, to the even 0.000000.
    # 3 tokens at 0.5 USD per million is 0.0000015 USD: halfway, to the even 0.000002.
    one = _estimate(input_usd_per_million=D("0.5"), input_tokens=1, output_tokens=0)
    three = _estimate(input_usd_per_million=D("0.5"), input_tokens=3, output_tokens=0)

    assert one.input_usd == D("0")
    assert three.input_usd == D("0.000002")


def test_no_tokens_cost_nothing() -> None:
    result = _estimate(input_tokens=0, output_tokens=0)

    assert result.credits == 0
    assert result.usd == 0


@pytest.mark.parametrize("argument", ["input_tokens", "output_tokens"])
def test_negative_tokens_raise_naming_the_argument(argument: str) -> None:
    with pytest.raises(ValueError, match=f"{argument} must be >= 0, got -1"):
        _estimate(**{argument: -1})


@pytest.mark.parametrize(
    "argument",
    [
        "input_usd_per_million",
        "output_usd_per_million",
        "input_credits_per_1k",
        "output_credits_per_1k",
        "margin",
    ],
)
def test_negative_prices_rates_and_margins_raise_naming_the_argument(argument: str) -> None:
    with pytest.raises(ValueError, match=f"{argument} must be >= 0"):
        _estimate(**{argument: D("-0.01")})


def test_a_non_integer_token_count_is_refused() -> None:
    with pytest.raises(TypeError, match="input_tokens must be an int"):
        _estimate(input_tokens=1.5)
    with pytest.raises(TypeError, match="output_tokens must be an int"):
        _estimate(output_tokens=True)


# Properties.

_amounts = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)
_tokens = st.integers(min_value=0, max_value=10_000_000)


@settings(database=None, max_examples=200)
@given(
    input_price=_amounts,
    output_price=_amounts,
    input_rate=_amounts,
    output_rate=_amounts,
    margin=st.decimals(min_value=0, max_value=5, places=4, allow_nan=False, allow_infinity=False),
    input_a=_tokens,
    input_b=_tokens,
    output_a=_tokens,
    output_b=_tokens,
)
def test_estimates_grow_with_tokens_and_add_up_within_rounding(
    input_price: Decimal,
    output_price: Decimal,
    input_rate: Decimal,
    output_rate: Decimal,
    margin: Decimal,
    input_a: int,
    input_b: int,
    output_a: int,
    output_b: int,
) -> None:
    def at(input_tokens: int, output_tokens: int) -> Estimate:
        return estimate(
            input_usd_per_million=input_price,
            output_usd_per_million=output_price,
            input_credits_per_1k=input_rate,
            output_credits_per_1k=output_rate,
            margin=margin,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    first = at(input_a, output_a)
    second = at(input_b, output_b)
    both = at(input_a + input_b, output_a + output_b)

    # Monotonic in each direction separately and together.
    assert at(input_a, output_a).credits <= at(input_a + input_b, output_a).credits
    assert at(input_a, output_a).credits <= at(input_a, output_a + output_b).credits
    assert first.credits <= both.credits
    assert first.usd <= both.usd

    # USD adds up to within one rounding step per direction (each part is off by <= 0.0000005).
    assert abs(both.input_usd - first.input_usd - second.input_usd) <= D("0.000001")
    assert abs(both.output_usd - first.output_usd - second.output_usd) <= D("0.000001")
    assert abs(both.usd - first.usd - second.usd) <= D("0.000002")

    # Rounding up: splitting a request never charges less, and at most one step more.
    for whole, part_a, part_b in (
        (both.input_credits, first.input_credits, second.input_credits),
        (both.output_credits, first.output_credits, second.output_credits),
    ):
        assert D("0") <= part_a + part_b - whole <= D("0.0001")

    for result in (first, second, both):
        _assert_all_decimal(result)
        assert result.credits == result.input_credits + result.output_credits
        assert result.usd == result.input_usd + result.output_usd
