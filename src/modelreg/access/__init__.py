"""Who may use a model: subscription-tier access rules."""

from __future__ import annotations

from modelreg.access.rules import AccessDecision, UnknownTier, decide, lowest_allowed_tier

__all__ = ["AccessDecision", "UnknownTier", "decide", "lowest_allowed_tier"]
