"""Errors of the catalog (see the tree in modelreg.exceptions)."""

from __future__ import annotations

from modelreg.exceptions import ModelRegError, NotFound, echo


class ModelNotFound(NotFound):
    def __init__(self, model_id: str):
        shown = echo(model_id)
        super().__init__(f"no model {shown!r} in the catalog", model_id=shown)


class ModelExists(ModelRegError):
    status_code = 409
    code = "model_exists"

    def __init__(self, model_id: str):
        super().__init__(f"a model {model_id!r} already exists", model_id=model_id)


class ModelArchived(ModelRegError):
    status_code = 410
    code = "model_archived"

    def __init__(self, model_id: str, replacement: str | None):
        hint = f"; use {replacement!r} instead" if replacement else ""
        super().__init__(
            f"model {model_id!r} is archived{hint}",
            model_id=model_id,
            replacement_model_id=replacement,
        )


class ChainEndsUnserved(ModelRegError):
    """Following replacements ended at a model that is archived or paused."""

    status_code = 410
    code = "chain_ends_unserved"

    def __init__(self, chain: list[str]):
        super().__init__(
            f"no servable model at the end of {' -> '.join(chain)}",
            model_id=chain[-1],
            chain=chain,
        )


class ModelIsArchived(ModelRegError):
    """A change that an archived model cannot take (unarchive it first)."""

    status_code = 409
    code = "model_is_archived"

    def __init__(self, model_id: str, change: str):
        super().__init__(f"model {model_id!r} is archived: {change} needs unarchive first")


class VersionConflict(ModelRegError):
    status_code = 412
    code = "version_conflict"

    def __init__(self, model_id: str, expected: int, current: int):
        super().__init__(
            f"model {model_id!r} is at version {current}, not {expected}: it changed since you "
            "read it; fetch it again and reapply your change",
            expected_version=expected,
            current_version=current,
        )
