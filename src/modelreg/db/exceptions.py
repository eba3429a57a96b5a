"""Errors of the database layer: a database out of reach, migrations that refuse to run and
databases that don't fit."""

from __future__ import annotations

from collections.abc import Sequence

from modelreg.exceptions import ModelRegError

MAX_LISTED = 50


class DatabaseUnavailable(ModelRegError):
    status_code = 503
    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("the database is unreachable; writes are refused until it is back")


class DatabaseError(ModelRegError):
    status_code = 409


class DowngradeWouldLoseData(DatabaseError):
    """A downgrade found rows the older schema cannot hold; nothing was changed."""

    code = "downgrade_would_lose_data"

    def __init__(self, revision: str, rows: Sequence[tuple[str, str]]):
        self.revision = revision
        self.rows = list(rows)
        listed = "\n".join(f"  - {model_id}: {why}" for model_id, why in self.rows[:MAX_LISTED])
        more = len(self.rows) - MAX_LISTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"downgrade of {revision} stopped: {len(self.rows)} row(s) hold data the older schema "
            f"cannot represent, and nothing was changed. Fix or remove them first:\n{listed}{tail}"
        )


class AdoptionMismatch(DatabaseError):
    """An existing `models` table differs from the baseline shape."""

    code = "adoption_mismatch"

    def __init__(self, differences: Sequence[str]):
        self.differences = list(differences)
        listed = "\n".join(f"  - {d}" for d in self.differences)
        super().__init__(
            f"the existing models table does not match the baseline schema "
            f"({len(self.differences)} difference(s)); nothing was stamped:\n{listed}"
        )
