"""An immutable snapshot of the catalog with its common responses rendered to bytes.

Built off the request path, swapped in whole: a reader holds one snapshot for its whole request
and never sees half of one revision and half of another.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from modelreg.catalog.query import (
    ListParams,
    PublicModel,
    legacy_headers,
    render,
    select_models,
)
from modelreg.catalog.reader import CatalogView
from modelreg.db import jsonb

Headers = tuple[tuple[bytes, bytes], ...]


JSON_TYPE = (b"content-type", b"application/json")


@dataclass(frozen=True)
class Rendered:
    """A response body and its own headers (legacy models: Deprecation, Sunset, Link)."""

    body: bytes
    headers: Headers = ()
    # Every header that depends on these bytes alone, content type and length first, ready to
    # send: the fast path adds only the ETag and the request id.
    head: Headers = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        length = (b"content-length", str(len(self.body)).encode())
        object.__setattr__(self, "head", (JSON_TYPE, length, *self.headers))


@dataclass(frozen=True)
class ChangeLog:
    """(revision, model id) of recent changes, oldest first; complete from `complete_after`."""

    entries: tuple[tuple[int, str], ...] = ()
    complete_after: int = 0

    def since(self, revision: int) -> tuple[list[str], bool]:
        """Ids changed after `revision`, and whether the log reaches back that far."""
        start = bisect.bisect_right(self.entries, (revision, "\U0010ffff"))
        ids = sorted({model_id for _, model_id in self.entries[start:]})
        return ids, revision >= self.complete_after

    def extended(self, new: Sequence[tuple[int, str]], keep: int) -> ChangeLog:
        last = self.last_revision
        entries = (*self.entries, *(entry for entry in new if entry[0] > last))
        if len(entries) <= keep:
            return ChangeLog(entries, self.complete_after)
        dropped = entries[: len(entries) - keep]
        return ChangeLog(entries[len(entries) - keep :], dropped[-1][0])

    @property
    def last_revision(self) -> int:
        return self.entries[-1][0] if self.entries else self.complete_after


@dataclass(frozen=True)
class TokenEntry:
    secret_hash: str
    role: str
    name: str


# Responses for list queries with parameters, rendered on first use, kept per snapshot.
RESPONSE_CACHE_SIZE = 256


@dataclass(frozen=True)
class Snapshot:
    view: CatalogView
    changes: ChangeLog
    tokens: dict[str, TokenEntry]
    built_at: float
    etag: bytes
    list_all: Rendered
    models: dict[str, Rendered]
    # Filtered lists by query string, rendered on first use (bounded; dropped with the snapshot).
    responses: dict[bytes, Rendered] = field(default_factory=dict, compare=False)

    @property
    def revision(self) -> int:
        return self.view.revision

    def cached(self, key: bytes) -> Rendered | None:
        return self.responses.get(key)

    def remember(self, key: bytes, body: bytes) -> None:
        if len(self.responses) < RESPONSE_CACHE_SIZE:
            self.responses[key] = Rendered(body)


def list_body(
    view: CatalogView, params: ListParams, tiers: Sequence[str], margin: Decimal
) -> bytes:
    page = select_models(view.models, params, tiers=tiers, margin=margin)
    return jsonb.dumps(
        {
            "object": "list",
            "data": [render(m, params.tier, rates, decision) for m, rates, decision in page.items],
            "has_more": page.has_more,
            "next_after": page.next_after,
            "revision": view.revision,
        }
    ).encode()


def _render_model(model: PublicModel) -> Rendered:
    headers = tuple(
        (name.lower().encode(), value.encode("latin-1"))
        for name, value in legacy_headers(model).items()
    )
    return Rendered(jsonb.dumps(model.body).encode(), headers)


def build_snapshot(
    view: CatalogView,
    *,
    changes: ChangeLog,
    tokens: dict[str, TokenEntry],
    tiers: Sequence[str],
    previous: Snapshot | None = None,
    changed: frozenset[str] | None = None,
) -> Snapshot:
    """Render every served model (reusing `previous`'s bytes for models not in `changed`) and
    the unfiltered list, which is those same bytes joined."""
    models: dict[str, Rendered] = {}
    for model in view.models:
        if model.state == "archived":
            continue  # 410 is rendered by the API from the view
        reused = None
        if previous is not None and changed is not None and model.id not in changed:
            reused = previous.models.get(model.id)
        models[model.id] = reused if reused is not None else _render_model(model)
    default = ListParams()
    wanted = default.wanted_states()
    listed = [models[m.id].body for m in view.models if m.state in wanted and m.available]
    tail = jsonb.dumps({"has_more": False, "next_after": None, "revision": view.revision}).encode()
    list_all = b'{"object": "list", "data": [' + b", ".join(listed) + b"], " + tail[1:]
    return Snapshot(
        view=view,
        changes=changes,
        tokens=tokens,
        built_at=time.time(),
        etag=f'"{view.revision}"'.encode(),
        list_all=Rendered(list_all),
        models=models,
    )
