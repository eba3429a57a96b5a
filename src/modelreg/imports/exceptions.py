"""Errors of imports.

ModelRegError
├── SourceUnreadable        422 source_unreadable   (no file, no JSON, not the format)
├── PlanInvalid             422 plan_invalid        (a plan file that is not a plan)
├── StalePlan               409 stale_plan          (a model it touches changed since)
├── LargeChanges            409 large_changes       (a guardrail; --allow-large-changes)
└── PlanApplied             409 plan_applied        (a kept plan applied already)
"""

from __future__ import annotations

from modelreg.exceptions import ModelRegError


class SourceUnreadable(ModelRegError):
    status_code = 422
    code = "source_unreadable"

    def __init__(self, message: str):
        super().__init__(message)


class PlanInvalid(ModelRegError):
    status_code = 422
    code = "plan_invalid"

    def __init__(self, message: str):
        super().__init__(f"not an import plan: {message}")


class StalePlan(ModelRegError):
    status_code = 409
    code = "stale_plan"

    def __init__(self, models: list[str]):
        super().__init__(
            f"the plan is stale: changed since it was made: {', '.join(models)}; make a new plan",
            models=models,
        )


class LargeChanges(ModelRegError):
    status_code = 409
    code = "large_changes"

    def __init__(self, reasons: list[str]):
        super().__init__(
            "the plan makes large changes (allow them with --allow-large-changes): "
            + "; ".join(reasons),
            reasons=reasons,
        )


class PlanApplied(ModelRegError):
    status_code = 409
    code = "plan_applied"

    def __init__(self, plan_id: str):
        super().__init__(f"import plan {plan_id!r} is applied already; make a new plan")
