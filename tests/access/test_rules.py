"""Subscription-tier access: every mode against every default tier, upgrades, unknown tiers."""

from __future__ import annotations

import pytest

from modelreg.access.rules import (
    AccessDecision,
    TierRestrictionMode,
    UnknownTier,
    decide,
    lowest_allowed_tier,
)
from modelreg.config import DEFAULT_TIERS

TIERS = ("free", "pro", "pro_max", "enterprise_pro", "enterprise_max", "perpetual")
REQUIRED = "pro_max"
WHITELIST = ("pro", "enterprise_max")

# (mode, tier) -> (allowed, upgrade_to) for a model with requiredTier pro_max (minimum, exact)
# or allowedTiers [pro, enterprise_max] (whitelist).
MATRIX: dict[tuple[TierRestrictionMode, str], tuple[bool, str | None]] = {
    (TierRestrictionMode.MINIMUM, "free"): (False, "pro_max"),
    (TierRestrictionMode.MINIMUM, "pro"): (False, "pro_max"),
    (TierRestrictionMode.MINIMUM, "pro_max"): (True, None),
    (TierRestrictionMode.MINIMUM, "enterprise_pro"): (True, None),
    (TierRestrictionMode.MINIMUM, "enterprise_max"): (True, None),
    (TierRestrictionMode.MINIMUM, "perpetual"): (True, None),
    (TierRestrictionMode.EXACT, "free"): (False, "pro_max"),
    (TierRestrictionMode.EXACT, "pro"): (False, "pro_max"),
    (TierRestrictionMode.EXACT, "pro_max"): (True, None),
    (TierRestrictionMode.EXACT, "enterprise_pro"): (False, None),
    (TierRestrictionMode.EXACT, "enterprise_max"): (False, None),
    (TierRestrictionMode.EXACT, "perpetual"): (False, None),
    (TierRestrictionMode.WHITELIST, "free"): (False, "pro"),
    (TierRestrictionMode.WHITELIST, "pro"): (True, None),
    (TierRestrictionMode.WHITELIST, "pro_max"): (False, "enterprise_max"),
    (TierRestrictionMode.WHITELIST, "enterprise_pro"): (False, "enterprise_max"),
    (TierRestrictionMode.WHITELIST, "enterprise_max"): (True, None),
    (TierRestrictionMode.WHITELIST, "perpetual"): (False, None),
}


def _decide(tier: str, mode: TierRestrictionMode | str) -> AccessDecision:
    return decide(
        tier, required_tier=REQUIRED, mode=mode, allowed_tiers=list(WHITELIST), tiers=TIERS
    )


def test_the_matrix_covers_every_mode_and_every_default_tier() -> None:
    assert TIERS == DEFAULT_TIERS
    assert set(MATRIX) == {(mode, tier) for mode in TierRestrictionMode for tier in TIERS}


@pytest.mark.parametrize(
    ("mode", "tier", "allowed", "upgrade_to"),
    [(mode, tier, *outcome) for (mode, tier), outcome in MATRIX.items()],
    ids=[f"{mode.value}-{tier}" for mode, tier in MATRIX],
)
def test_decision_matrix(
    mode: TierRestrictionMode, tier: str, allowed: bool, upgrade_to: str | None
) -> None:
    decision = _decide(tier, mode)

    assert decision.allowed is allowed
    assert decision.upgrade_to == upgrade_to
    assert decision.required_tier == REQUIRED
    assert decision.reason


@pytest.mark.parametrize(("mode", "tier"), list(MATRIX))
def test_mode_given_as_its_string_decides_the_same(mode: TierRestrictionMode, tier: str) -> None:
    assert _decide(tier, mode.value) == _decide(tier, mode)


# Reasons.


def test_reason_for_minimum_names_the_rule_and_the_upgrade() -> None:
    denied = _decide("free", TierRestrictionMode.MINIMUM)
    allowed = _decide("perpetual", TierRestrictionMode.MINIMUM)

    assert denied.reason == "requires pro_max or higher; upgrade to pro_max for access"
    assert allowed.reason == "requires pro_max or higher; perpetual has access"


def test_reason_for_exact_says_when_no_upgrade_would_grant_access() -> None:
    assert _decide("pro", TierRestrictionMode.EXACT).reason == (
        "only for tier pro_max; upgrade to pro_max for access"
    )
    assert _decide("enterprise_max", TierRestrictionMode.EXACT).reason == (
        "only for tier pro_max; no upgrade from enterprise_max grants access"
    )


def test_reason_for_whitelist_lists_its_tiers_in_tier_order() -> None:
    decision = decide(
        "pro_max",
        required_tier="free",
        mode="whitelist",
        allowed_tiers=["enterprise_max", "enterprise_pro"],
        tiers=TIERS,
    )

    assert decision.reason == (
        "only for tiers enterprise_pro, enterprise_max; upgrade to enterprise_pro for access"
    )
    assert decision.upgrade_to == "enterprise_pro"


def test_reason_for_a_one_tier_whitelist_uses_the_singular() -> None:
    decision = decide(
        "free", required_tier="free", mode="whitelist", allowed_tiers=["pro"], tiers=TIERS
    )

    assert decision.reason == "only for tier pro; upgrade to pro for access"


def test_whitelist_naming_only_lower_tiers_offers_no_upgrade() -> None:
    decision = decide(
        "enterprise_pro",
        required_tier="free",
        mode=TierRestrictionMode.WHITELIST,
        allowed_tiers=["free", "pro"],
        tiers=TIERS,
    )

    assert decision.allowed is False
    assert decision.upgrade_to is None
    assert (
        decision.reason == "only for tiers free, pro; no upgrade from enterprise_pro grants access"
    )


def test_an_empty_whitelist_allows_no_tier() -> None:
    for tier in TIERS:
        decision = decide(
            tier, required_tier="free", mode="whitelist", allowed_tiers=[], tiers=TIERS
        )
        assert decision.allowed is False
        assert decision.upgrade_to is None
    assert (
        lowest_allowed_tier(required_tier="free", mode="whitelist", allowed_tiers=[], tiers=TIERS)
        is None
    )


# The lowest tier that has access.


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (TierRestrictionMode.MINIMUM, "pro_max"),
        (TierRestrictionMode.EXACT, "pro_max"),
        (TierRestrictionMode.WHITELIST, "pro"),
    ],
)
def test_lowest_allowed_tier(mode: TierRestrictionMode, expected: str) -> None:
    lowest = lowest_allowed_tier(
        required_tier=REQUIRED, mode=mode, allowed_tiers=list(WHITELIST), tiers=TIERS
    )

    assert lowest == expected
    assert _decide(expected, mode).allowed


# Unknown tiers and modes.


def test_an_unknown_asked_tier_raises_naming_it_and_the_known_ones() -> None:
    with pytest.raises(UnknownTier, match=r"unknown tier 'gold'; known: free, pro, pro_max") as e:
        _decide("gold", TierRestrictionMode.MINIMUM)

    assert isinstance(e.value, ValueError)
    assert e.value.tier == "gold"
    assert e.value.tiers == TIERS


def test_an_unknown_required_tier_raises() -> None:
    with pytest.raises(UnknownTier, match="'gold'"):
        decide("pro", required_tier="gold", mode="minimum", allowed_tiers=[], tiers=TIERS)
    with pytest.raises(UnknownTier, match="'gold'"):
        lowest_allowed_tier(required_tier="gold", mode="exact", allowed_tiers=[], tiers=TIERS)


def test_an_unknown_whitelisted_tier_raises() -> None:
    with pytest.raises(UnknownTier, match="'gold'"):
        decide("pro", required_tier="pro", mode="whitelist", allowed_tiers=["gold"], tiers=TIERS)


def test_an_unknown_mode_raises() -> None:
    with pytest.raises(ValueError, match="unknown tier restriction mode 'maximum'"):
        _decide("pro", "maximum")


@pytest.mark.parametrize("tiers", [(), ("free", "pro", "free")])
def test_an_empty_or_repeating_tier_list_raises(tiers: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="tier list"):
        decide("free", required_tier="free", mode="minimum", allowed_tiers=[], tiers=tiers)


# A tier list other than the default.


def test_a_custom_tier_list() -> None:
    custom = ("basic", "plus")

    assert decide(
        "basic", required_tier="plus", mode="minimum", allowed_tiers=[], tiers=custom
    ) == AccessDecision(
        allowed=False,
        reason="requires plus or higher; upgrade to plus for access",
        required_tier="plus",
        upgrade_to="plus",
    )
    assert decide(
        "plus", required_tier="plus", mode="exact", allowed_tiers=[], tiers=custom
    ).allowed
    assert decide(
        "basic", required_tier="basic", mode="whitelist", allowed_tiers=["basic"], tiers=custom
    ).allowed
    with pytest.raises(UnknownTier, match="known: basic, plus"):
        decide("pro", required_tier="plus", mode="minimum", allowed_tiers=[], tiers=custom)
