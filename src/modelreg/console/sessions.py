"""Console sign-in sessions: a random session secret in a signed cookie, its SHA-256 and the
API token it signed in with in `console_sessions`. A session ends on sign-out, at its expiry,
and on its next request once its token is revoked."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.auth.roles import Principal, Role
from modelreg.config import get_settings
from modelreg.console import repository
from modelreg.console.models import ConsoleSession

COOKIE = "modelreg_console"
# The CSRF value of the sign-in form, before there is a session (a double-submit cookie).
SIGN_IN_COOKIE = "modelreg_console_signin"


@lru_cache
def _process_key() -> bytes:
    return secrets.token_bytes(32)


def signing_key() -> bytes:
    configured = get_settings().console.secret_key
    if configured is not None:
        return configured.get_secret_value().encode()
    return _process_key()


def sign(value: str) -> str:
    mac = hmac.new(signing_key(), value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(signed: str | None) -> str | None:
    """The value of a signed string; None when it is missing or its signature is wrong."""
    if not signed or "." not in signed:
        return None
    value, mac = signed.rsplit(".", 1)
    expected = hmac.new(signing_key(), value.encode(), hashlib.sha256).hexdigest()
    return value if hmac.compare_digest(mac, expected) else None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """The person at the console: their token's principal, and their session."""

    principal: Principal
    token_id: str
    token_name: str
    session_id: str
    csrf_token: str
    expires_at: datetime

    @property
    def role(self) -> Role:
        return self.principal.role

    def may(self, role: Role | str) -> bool:
        return self.principal.role.grants(Role(role))


async def start(session: AsyncSession, token_id: str) -> tuple[str, ConsoleSession]:
    """A new session for `token_id`; the cookie value (signed) and the row."""
    secret = secrets.token_urlsafe(32)
    row = ConsoleSession(
        id=_hash(secret),
        token_id=token_id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=datetime.now(UTC) + timedelta(seconds=get_settings().console.session_ttl_s),
    )
    await repository.add(session, row)
    return sign(secret), row


async def resume(session: AsyncSession, cookie: str | None) -> SignedIn | None:
    """The session the cookie names, if it is signed by us, unexpired and its token not
    revoked; a session found expired or revoked is deleted."""
    secret = unsign(cookie)
    if secret is None:
        return None
    found = await repository.with_token(session, _hash(secret))
    if found is None:
        return None
    row, token = found
    if token.revoked_at is not None or row.expires_at <= datetime.now(UTC):
        await repository.delete_by_id(session, row.id)
        return None
    return SignedIn(
        principal=Principal(name=f"token:{token.name}", role=Role(token.role)),
        token_id=token.id,
        token_name=token.name,
        session_id=row.id,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


async def end(session: AsyncSession, session_id: str) -> None:
    await repository.delete_by_id(session, session_id)


async def end_for_token(session: AsyncSession, token_id: str) -> None:
    """Sign out every session of a token (when it is revoked from the console)."""
    await repository.delete_for_token(session, token_id)


async def sweep_expired(session: AsyncSession) -> None:
    await repository.delete_expired(session, datetime.now(UTC))
