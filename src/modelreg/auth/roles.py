"""Roles, lowest first: viewer reads the admin API, editor also writes models, admin also
manages tokens and reverts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def grants(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Principal:
    """Who is acting: `token:<name>` for API tokens, `cli:<user>` for the command line."""

    name: str
    role: Role
