"""Rows in the baseline (wide) shape: a hypothesis strategy, an inserter, and a hash per row."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from hypothesis import strategies as st
from sqlalchemy import Connection, text

CAPABILITIES = ("text", "vision", "function_calling", "code", "long_context")
TIERS = ("free", "pro", "pro_max", "enterprise_pro", "enterprise_max", "perpetual")
INT4 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def _text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    # Any Unicode PostgreSQL can store: everything but NUL and lone surrogates.
    alphabet = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


@dataclass(frozen=True)
class LegacyRow:
    id: str
    name: str
    display_name: str
    provider: str
    description: str | None
    capabilities: list[str | None] | None
    context_length: int
    max_output_tokens: int | None
    input_cost_per_million_tokens: int
    output_cost_per_million_tokens: int
    credits_per_1k_tokens: int
    is_available: bool
    is_deprecated: bool
    version: str | None
    required_tier: str
    tier_restriction_mode: str
    allowed_tiers: list[str]


COLUMNS = tuple(f.name for f in fields(LegacyRow))
# Every column of the baseline table, in the order the hash reads them.
HASHED = (*COLUMNS, "created_at", "updated_at")


def legacy_rows(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[list[LegacyRow]]:
    row = st.builds(
        LegacyRow,
        id=_text(100, min_size=1),
        name=_text(255),
        display_name=_text(255),
        provider=_text(100),
        description=st.none() | _text(2000),
        capabilities=st.none() | st.lists(st.sampled_from(CAPABILITIES) | st.none(), max_size=6),
        context_length=INT4,
        max_output_tokens=st.none() | INT4,
        input_cost_per_million_tokens=INT4,
        output_cost_per_million_tokens=INT4,
        credits_per_1k_tokens=INT4,
        is_available=st.booleans(),
        is_deprecated=st.booleans(),
        version=st.none() | _text(50),
        required_tier=st.sampled_from(TIERS),
        tier_restriction_mode=st.sampled_from(("minimum", "exact", "whitelist")) | _text(20),
        allowed_tiers=st.lists(st.sampled_from(TIERS), max_size=6),
    )
    return st.lists(row, min_size=min_size, max_size=max_size, unique_by=lambda r: r.id)


INSERT = text(
    f"INSERT INTO models ({', '.join(COLUMNS)}) VALUES ("
    + ", ".join(
        f"CAST(:{c} AS model_capability[])"
        if c == "capabilities"
        else f"CAST(:{c} AS subscription_tier[])"
        if c == "allowed_tiers"
        else f"CAST(:{c} AS subscription_tier)"
        if c == "required_tier"
        else f":{c}"
        for c in COLUMNS
    )
    + ")"
)


def insert_rows(conn: Connection, rows: list[LegacyRow]) -> None:
    for row in rows:
        conn.execute(INSERT, dict(zip(COLUMNS, astuple(row), strict=True)))


def row_hashes(conn: Connection, *, normalised: bool = False) -> dict[str, str]:
    """md5 of every legacy column of every row, by id.

    `normalised` applies the documented normalisations of the contract downgrade (NULL
    description and version become '', NULL capabilities and allowed_tiers an empty array), to
    compare a database that went through it with one that did not.
    """
    expressions = []
    for column in HASHED:
        if normalised and column in ("description", "version"):
            expressions.append(f"coalesce({column}, '')")
        elif normalised and column in ("capabilities", "allowed_tiers"):
            expressions.append(f"coalesce({column}, '{{}}')")
        else:
            expressions.append(column)
    rows = conn.execute(
        text(f"SELECT id, md5(ROW({', '.join(expressions)})::text) AS h FROM models")
    )
    return {str(r.id): str(r.h) for r in rows}
