"""The root of every error modelreg raises on purpose.

    ModelRegError(message, status_code, code)
    └── DatabaseError                          db/
        ├── DowngradeWouldLoseData             409 downgrade_would_lose_data
        └── AdoptionMismatch                   409 adoption_mismatch

Each carries a stable `code`; the HTTP layer renders them as RFC 9457 problem+json and the CLI
prints the message and exits non-zero.
"""

from __future__ import annotations


class ModelRegError(Exception):
    message: str
    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
