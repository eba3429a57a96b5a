"""Errors of webhook subscriptions.

ModelRegError
├── SubscriptionNotFound (a NotFound)   404 not_found
└── TargetRefused                       422 target_refused
"""

from __future__ import annotations

from modelreg.exceptions import ModelRegError, NotFound


class SubscriptionNotFound(NotFound):
    def __init__(self, subscription_id: str):
        super().__init__(f"no webhook subscription {subscription_id!r}")


class TargetRefused(ModelRegError):
    status_code = 422
    code = "target_refused"

    def __init__(self, url: str, why: str):
        super().__init__(f"webhook target {url!r} refused: {why}")
