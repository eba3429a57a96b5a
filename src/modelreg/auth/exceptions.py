"""Authentication and authorisation errors."""

from __future__ import annotations

from modelreg.auth.roles import Role
from modelreg.exceptions import ModelRegError


class Unauthorized(ModelRegError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "a valid API token is required (Authorization: Bearer)"):
        super().__init__(message)


class Forbidden(ModelRegError):
    status_code = 403
    code = "forbidden"

    def __init__(self, role: Role, needed: Role):
        super().__init__(f"this needs the {needed} role; the token has {role}")


class TokenNotFound(ModelRegError):
    status_code = 404
    code = "not_found"

    def __init__(self, token_id: str):
        super().__init__(f"no API token {token_id!r}")
