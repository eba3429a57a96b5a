"""Which entry of a price history is in force at a moment, and which comes next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from modelreg.pricing.schedule import (
    PriceEntry,
    Prices,
    in_force,
    next_change,
    ordered,
    same_prices,
)

START = datetime(2027, 1, 1, tzinfo=UTC)


def entry(entry_id: int, hours: float, price: str, *, pending: bool = False) -> PriceEntry:
    value = Decimal(price)
    return PriceEntry(
        id=entry_id,
        effective_from=START + timedelta(hours=hours),
        prices=Prices(value, value, value, value, value),
        pending=pending,
    )


def at(hours: float) -> float:
    return (START + timedelta(hours=hours)).timestamp()


def test_an_entry_is_in_force_from_its_moment_until_the_next() -> None:
    history = ordered([entry(3, 10, "3", pending=True), entry(1, 0, "1"), entry(2, 5, "2")])
    assert in_force(history, at(-1)) is None
    assert [in_force(history, at(h)).id for h in (0, 4.99, 5, 9.99, 10, 100)] == [  # type: ignore[union-attr]
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert next_change(history, at(0)).id == 2  # type: ignore[union-attr]
    assert next_change(history, at(5)).id == 3  # type: ignore[union-attr]
    assert next_change(history, at(10)) is None


def test_of_two_entries_at_one_moment_the_later_recorded_wins() -> None:
    history = ordered([entry(9, 5, "9"), entry(4, 5, "4"), entry(1, 0, "1")])
    assert in_force(history, at(5)).id == 9  # type: ignore[union-attr]


def test_prices_compare_by_value() -> None:
    meta = {"inputCostUsdPerMillionTokens": Decimal("2.0"), "creditsPinned": False}
    assert same_prices(meta, {"inputCostUsdPerMillionTokens": 2, "creditsPinned": False})
    assert not same_prices(meta, {"inputCostUsdPerMillionTokens": 3, "creditsPinned": False})
    assert not same_prices(None, meta)
