"""HTTP authentication: `Authorization: Bearer <token>` -> the acting principal and actor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelreg.audit.schemas import Actor
from modelreg.auth import service
from modelreg.auth.exceptions import Forbidden, Unauthorized
from modelreg.auth.roles import Principal, Role
from modelreg.config import get_settings
from modelreg.db.session import Session

bearer = HTTPBearer(auto_error=False, description="An API token: `modelreg token create`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    async def dependency(credentials: Credentials, db: Session) -> Principal:
        if credentials is None:
            raise Unauthorized()
        principal = await service.authenticate(db, credentials.credentials)
        if not principal.role.grants(role):
            raise Forbidden(principal.role, role)
        return principal

    dependency.__name__ = f"require_{role.value}"
    dependency.requires_token = True  # type: ignore[attr-defined]  # read by ExactJSONRoute
    return dependency


async def public_access(credentials: Credentials, request: Request) -> None:
    """The public API is open unless MODELREG_PUBLIC_API_TOKEN_REQUIRED=true; then any valid
    token, checked against the snapshot's copy of the tokens (no database on the read path)."""
    if not get_settings().public_api_token_required:
        return
    if credentials is None:
        raise Unauthorized()
    service.verify_known(request.app.state.snapshot.current.tokens, credentials.credentials)


def request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def actor_for(principal: Principal, request: Request) -> Actor:
    return Actor(name=principal.name, request_id=request_id(request))


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Editor = Annotated[Principal, Depends(require(Role.EDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
