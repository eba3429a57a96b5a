"""Filtered lists spliced from the snapshot's rendered bytes are the very text that serialising
the list would give, for every tier, margin and state filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from modelreg.catalog.seed import load_seed_models
from modelreg.config import DEFAULT_TIERS
from modelreg.db import jsonb
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import ListParams
from modelreg.public.filters import select_models
from modelreg.public.schemas import CatalogView, build_view, render
from modelreg.public.snapshot import (
    ChangeLog,
    Rendered,
    ResponseCache,
    Snapshot,
    build_snapshot,
    list_body,
)


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    provider: str
    is_available: bool
    is_legacy: bool
    is_archived: bool
    meta: dict[str, Any]
    created_at: datetime


def rows() -> list[Row]:
    out = []
    for i, seed in enumerate(load_seed_models()):
        meta = jsonb.loads(seed.meta.model_dump_json(by_alias=True, exclude_none=True))
        if i % 7 == 3:
            # Text that looks like the keys the splice looks for, inside strings.
            meta["description"] = 'says ", "credits": {" and ", "tier_access": "'
            meta["providerMetadata"] = {"region": "eu", "credits": {"note": ', "credits": '}}
        if i % 7 == 5:
            # Meta written with plain SQL can put objects where the API puts strings: keys of
            # those names then occur before the model's own.
            meta["description"] = {"text": "x", "credits": 1, "tier_access": {"credits": 2}}
        out.append(
            Row(
                id=seed.id,
                name=seed.name,
                provider=seed.provider,
                is_available=seed.is_available and i % 11 != 5,
                is_legacy=seed.is_legacy,
                is_archived=i % 9 == 4,
                meta=meta,
                created_at=datetime(2025, 1, 1 + i, tzinfo=UTC),
            )
        )
    return out


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    view = build_view(7, rows())
    return build_snapshot(view, changes=ChangeLog(), tokens={}, tiers=DEFAULT_TIERS)


PARAMS = [
    ListParams(),
    ListParams(include_archived=True, include_unavailable=True),
    ListParams(capabilities=("vision",), limit=3),
    ListParams(states=(LifecycleState.LEGACY, LifecycleState.ARCHIVED)),
    *(ListParams(tier=tier) for tier in DEFAULT_TIERS),
    ListParams(tier="pro", include_archived=True, include_unavailable=True),
    ListParams(tier="free", max_credits_per_1k=Decimal("2.5"), limit=2),
]


@pytest.mark.parametrize("params", PARAMS, ids=repr)
@pytest.mark.parametrize("margin", [Decimal(0), Decimal("0.25"), Decimal("0.0333")], ids=str)
def test_spliced_list_is_the_serialised_list(
    snapshot: Snapshot, params: ListParams, margin: Decimal
) -> None:
    view: CatalogView = snapshot.view
    page = select_models(view.models, params, tiers=DEFAULT_TIERS, margin=margin)
    serialised = jsonb.dumps(
        {
            "object": "list",
            "data": [render(m, params.tier, rates, decision) for m, rates, decision in page.items],
            "has_more": page.has_more,
            "next_after": page.next_after,
            "revision": view.revision,
        }
    ).encode()

    spliced = list_body(view, params, DEFAULT_TIERS, margin, snapshot.models)
    assert spliced == serialised
    assert list_body(view, params, DEFAULT_TIERS, margin) == serialised
    document = jsonb.loads(spliced)
    assert document["data"], "the case lists something"
    if params.tier is not None:
        assert all(item["credits"]["tier"] == params.tier for item in document["data"])
        assert all(item["access"]["allowed"] for item in document["data"])


# The per-snapshot response cache.


def test_response_cache_keeps_responses_within_its_entry_and_byte_bounds() -> None:
    cache = ResponseCache(max_entries=3, max_bytes=100)

    cache.put(b"a", b"x" * 40)
    cache.put(b"b", b"y" * 70)  # would exceed 100 bytes: served, not kept
    cache.put(b"c", b"z" * 60)

    assert cache.get(b"a") == Rendered(b"x" * 40)
    assert cache.get(b"b") is None
    assert cache.get(b"c") is not None
    assert cache.bytes == 100

    cache.put(b"d", b"")
    cache.put(b"e", b"")  # a fourth entry
    assert cache.get(b"d") is not None
    assert cache.get(b"e") is None
    assert len(cache) == 3


def test_response_cache_keeps_the_first_body_for_a_key() -> None:
    cache = ResponseCache()
    cache.put(b"q", b"first")
    cache.put(b"q", b"second")
    cached = cache.get(b"q")
    assert cached is not None
    assert cached.body == b"first"
    assert cache.bytes == len(b"first")
