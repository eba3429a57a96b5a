"""Subscription-tier access: may a subscriber on a given tier use a model, and if not, what
upgrade (if any) would let them.

Tiers are an ordered list, lowest first (`Settings.tiers`). A model restricts access in one of
three modes (`TierRestrictionMode`):

- ``minimum``: the tier must be `required_tier` or higher;
- ``exact``: the tier must be `required_tier` itself;
- ``whitelist``: the tier must be one of `allowed_tiers` (`required_tier` is not consulted).

Every tier named (the asked tier, `required_tier`, each of `allowed_tiers`) must be in the tier
list, otherwise `UnknownTier` is raised. The functions are pure: the tier list is an argument,
never read from settings here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AccessDecision",
    "TierRestrictionMode",
    "UnknownTier",
    "decide",
    "lowest_allowed_tier",
]


class TierRestrictionMode(StrEnum):
    MINIMUM = "minimum"  # tier >= requiredTier
    EXACT = "exact"  # tier == requiredTier
    WHITELIST = "whitelist"  # tier in allowedTiers


class UnknownTier(ValueError):
    """A tier that is not in the configured tier list."""

    def __init__(self, tier: str, tiers: Sequence[str]) -> None:
        super().__init__(f"unknown tier {tier!r}; known: {', '.join(tiers)}")
        self.tier = tier
        self.tiers = tuple(tiers)


@dataclass(frozen=True)
class AccessDecision:
    """The outcome of checking one tier against one model's rule.

    `required_tier` is the model's `requiredTier` as given. `upgrade_to` is the lowest tier above
    the asked one that would be allowed; None when access is allowed or when no higher tier
    would grant it.
    """

    allowed: bool
    reason: str
    required_tier: str
    upgrade_to: str | None


def _check_tiers(tiers: Sequence[str]) -> tuple[str, ...]:
    ordered = tuple(tiers)
    if not ordered:
        raise ValueError("the tier list must not be empty")
    if len(set(ordered)) != len(ordered):
        raise ValueError(f"the tier list must not repeat a tier: {', '.join(ordered)}")
    return ordered


def _index(tier: str, tiers: tuple[str, ...]) -> int:
    try:
        return tiers.index(tier)
    except ValueError:
        raise UnknownTier(tier, tiers) from None


def _mode(mode: TierRestrictionMode | str) -> TierRestrictionMode:
    try:
        return TierRestrictionMode(mode)
    except ValueError:
        known = ", ".join(m.value for m in TierRestrictionMode)
        raise ValueError(f"unknown tier restriction mode {mode!r}; known: {known}") from None


def _allowed_indices(
    *,
    required_tier: str,
    mode: TierRestrictionMode,
    allowed_tiers: Sequence[str],
    tiers: tuple[str, ...],
) -> list[int]:
    """The positions in `tiers` the rule admits, ascending."""
    required = _index(required_tier, tiers)
    if mode is TierRestrictionMode.MINIMUM:
        return list(range(required, len(tiers)))
    if mode is TierRestrictionMode.EXACT:
        return [required]
    return sorted({_index(tier, tiers) for tier in allowed_tiers})


def _describe(
    mode: TierRestrictionMode, required_tier: str, admitted: list[int], tiers: tuple[str, ...]
) -> str:
    if mode is TierRestrictionMode.MINIMUM:
        return f"requires {required_tier} or higher"
    if mode is TierRestrictionMode.EXACT:
        return f"only for tier {required_tier}"
    if not admitted:
        return "the whitelist names no tier"
    names = [tiers[i] for i in admitted]
    noun = "tier" if len(names) == 1 else "tiers"
    return f"only for {noun} {', '.join(names)}"


def decide(
    tier: str,
    *,
    required_tier: str,
    mode: TierRestrictionMode | str,
    allowed_tiers: Sequence[str],
    tiers: Sequence[str],
) -> AccessDecision:
    """Whether `tier` may use a model restricted by (`mode`, `required_tier`, `allowed_tiers`).

    `tiers` is the ordered tier list, lowest first. Raises `UnknownTier` for a tier not in it and
    ValueError for an unknown mode or an empty or repeating tier list.
    """
    ordered = _check_tiers(tiers)
    rule = _mode(mode)
    asked = _index(tier, ordered)
    admitted = _allowed_indices(
        required_tier=required_tier, mode=rule, allowed_tiers=allowed_tiers, tiers=ordered
    )
    rule_text = _describe(rule, required_tier, admitted, ordered)

    if asked in admitted:
        return AccessDecision(
            allowed=True,
            reason=f"{rule_text}; {tier} has access",
            required_tier=required_tier,
            upgrade_to=None,
        )
    higher = [i for i in admitted if i > asked]
    if higher:
        upgrade_to: str | None = ordered[higher[0]]
        outcome = f"upgrade to {upgrade_to} for access"
    else:
        upgrade_to = None
        outcome = f"no upgrade from {tier} grants access"
    return AccessDecision(
        allowed=False,
        reason=f"{rule_text}; {outcome}",
        required_tier=required_tier,
        upgrade_to=upgrade_to,
    )


def lowest_allowed_tier(
    *,
    required_tier: str,
    mode: TierRestrictionMode | str,
    allowed_tiers: Sequence[str],
    tiers: Sequence[str],
) -> str | None:
    """The lowest tier of `tiers` that may use the model, or None when no tier may (an empty
    whitelist). Raises like `decide`."""
    ordered = _check_tiers(tiers)
    admitted = _allowed_indices(
        required_tier=required_tier, mode=_mode(mode), allowed_tiers=allowed_tiers, tiers=ordered
    )
    return ordered[admitted[0]] if admitted else None
