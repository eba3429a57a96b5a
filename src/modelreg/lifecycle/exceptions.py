"""Errors of the lifecycle (see the tree in modelreg.exceptions)."""

from __future__ import annotations

from collections.abc import Sequence

from modelreg.exceptions import ModelRegError


class InvalidTransition(ModelRegError):
    status_code = 409
    code = "invalid_transition"

    def __init__(self, model_id: str, action: str, current: str, target: str):
        super().__init__(
            f"cannot {action} model {model_id!r}: it is {current}, and {action} does not lead "
            f"from {current} to {target}",
            action=action,
            current_state=current,
            target_state=target,
        )


class ReplacementInvalid(ModelRegError):
    status_code = 422
    code = "replacement_invalid"

    def __init__(self, message: str, chain: Sequence[str] = ()):
        super().__init__(message, chain=list(chain))


class ReplacementInUse(ModelRegError):
    status_code = 409
    code = "replacement_in_use"

    def __init__(self, model_id: str, replaced: Sequence[str]):
        super().__init__(
            f"model {model_id!r} is the replacement of {', '.join(replaced)}; archiving it would "
            "leave them pointing at an archived model. Re-point them first, or pass force=true",
            replaced_models=list(replaced),
        )
