"""API tokens: `mr_<id>_<secret>`. Only a SHA-256 of the secret is stored; lookups go by id and
the hash is compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from modelreg.audit.schemas import Actor
from modelreg.audit.service import record_change
from modelreg.auth import repository
from modelreg.auth.exceptions import TokenNotFound, Unauthorized
from modelreg.auth.models import ApiToken
from modelreg.auth.roles import Principal, Role


class TokenLike(Protocol):
    @property
    def secret_hash(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def name(self) -> str: ...


PREFIX = "mr"
ID_ALPHABET = string.ascii_lowercase + string.digits
# last_used_at is a hint, not a log: refresh it at most this often to keep reads read-only.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


async def create_token(
    session: AsyncSession, *, name: str, role: Role, actor: Actor
) -> tuple[ApiToken, str]:
    """Create a token; return it and its plaintext, which is never stored or shown again."""
    if not name.strip():
        raise ValueError("a token needs a name")
    token_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        id=token_id, name=name, role=role.value, secret_hash=_hash(secret), created_by=actor.name
    )
    await repository.add(session, token)
    # A token change is a change: running instances reload, their copy of the tokens too.
    await record_change(
        session,
        actor=actor,
        action="token_create",
        reason=None,
        after={"token_id": token.id, "name": name, "role": role.value},
    )
    return token, f"{PREFIX}_{token_id}_{secret}"


async def authenticate(session: AsyncSession, presented: str) -> Principal:
    parsed = _parse(presented)
    if parsed is None:
        raise Unauthorized("malformed API token")
    token_id, secret = parsed
    token = await repository.get(session, token_id)
    # Compare even when the id is unknown, so timing does not tell which ids exist.
    expected = token.secret_hash if token is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(secret)) or token is None:
        raise Unauthorized("unknown or revoked API token")
    if token.revoked_at is not None:
        raise Unauthorized("unknown or revoked API token")
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        await repository.touch(session, token.id, now)
    return Principal(name=f"token:{token.name}", role=Role(token.role))


def verify_known(known: Mapping[str, TokenLike], presented: str) -> Principal:
    """Authenticate against tokens held in memory (the snapshot): no database on the read path."""
    parsed = _parse(presented)
    if parsed is None:
        raise Unauthorized("malformed API token")
    token_id, secret = parsed
    entry = known.get(token_id)
    expected = entry.secret_hash if entry is not None else _hash("")
    if not hmac.compare_digest(expected, _hash(secret)) or entry is None:
        raise Unauthorized("unknown or revoked API token")
    return Principal(name=f"token:{entry.name}", role=Role(entry.role))


async def list_tokens(session: AsyncSession) -> Sequence[ApiToken]:
    return await repository.list_all(session)


async def revoke_token(session: AsyncSession, token_id: str, actor: Actor) -> ApiToken:
    token = await repository.get(session, token_id)
    if token is None:
        raise TokenNotFound(token_id)
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        await record_change(
            session, actor=actor, action="token_revoke", reason=None, after={"token_id": token_id}
        )
    return token
