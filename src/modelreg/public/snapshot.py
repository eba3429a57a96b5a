"""An immutable snapshot of the catalog with its common responses rendered to bytes.

Built off the request path, swapped in whole: a reader holds one snapshot for its whole request
and never sees half of one revision and half of another.
"""

from __future__ import annotations

import asyncio
import bisect
import gzip
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from modelreg.access.rules import AccessDecision
from modelreg.db import jsonb
from modelreg.lifecycle.states import LifecycleState
from modelreg.listing import ListParams
from modelreg.pricing.credits import CreditRates
from modelreg.public.filters import select_models
from modelreg.public.schemas import CatalogView, PublicModel, access_view, legacy_headers, render

Headers = tuple[tuple[bytes, bytes], ...]


JSON_TYPE = (b"content-type", b"application/json")
VARY = (b"vary", b"Accept-Encoding")
GZIP = (b"content-encoding", b"gzip")
# Bodies from this size on are also offered gzip-compressed (a model alone is about 1 KB; the
# list of 2,000 models, 1.7 MB, compresses to 133 KB in about 10 ms, once per snapshot).
COMPRESS_FROM = 4096
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Encoded:
    """A body as sent, with every header that depends on it alone, ready to send."""

    body: bytes
    head: Headers


@dataclass(frozen=True)
class Rendered:
    """A response body and its own headers (legacy models: Deprecation, Sunset, Link)."""

    body: bytes
    headers: Headers = ()
    # Every header that depends on these bytes alone, content type and length first, ready to
    # send: the fast path adds only the ETag and the request id.
    head: Headers = field(init=False, repr=False, compare=False)
    compressible: bool = field(init=False, repr=False, compare=False)
    # The gzip-compressed body, once made (by `start_gzip`, in a worker thread).
    packed: Encoded | None = field(init=False, default=None, repr=False, compare=False)
    _packing: bool = field(init=False, default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compressible = is_compressible(self.body)
        length = (b"content-length", str(len(self.body)).encode())
        vary = (VARY,) if compressible else ()
        object.__setattr__(self, "head", (JSON_TYPE, length, *vary, *self.headers))
        object.__setattr__(self, "compressible", compressible)

    def gzipped(self) -> Encoded | None:
        """The compressed body if it is made; otherwise None, and it is made in a worker thread
        (compressing 1.7 MB takes about 12 ms, 16 MB about 120 ms: not on the event loop)."""
        packed = self.packed
        if packed is None and not self._packing:
            object.__setattr__(self, "_packing", True)
            asyncio.get_running_loop().run_in_executor(None, self.pack)
        return packed

    def pack(self) -> Encoded:
        """Compress now (deterministic: no mtime in the header) and keep the result."""
        packed = self.packed
        if packed is None:
            body = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
            length = (b"content-length", str(len(body)).encode())
            packed = Encoded(body, (JSON_TYPE, GZIP, length, VARY, *self.headers))
            object.__setattr__(self, "packed", packed)
        return packed


def is_compressible(body: bytes) -> bool:
    """Whether a response body is also offered gzip-compressed (so it must say Vary)."""
    return len(body) >= COMPRESS_FROM


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


class ResponseCache:
    """Filtered lists by query string, rendered on first use and kept for one snapshot.

    Bounded in entries and in bytes: at 100,000 models one list can be 16 MB, and a client
    sending distinct queries must not be able to grow the process without limit. A response
    that does not fit is served but not kept.
    """

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: dict[bytes, Rendered] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Rendered | None:
        return self._entries.get(key)

    def put(self, key: bytes, body: bytes) -> None:
        if key in self._entries or len(self._entries) >= self.max_entries:
            return
        if self.bytes + len(body) > self.max_bytes:
            return
        self._entries[key] = Rendered(body)
        self.bytes += len(body)


MODEL_PATH = "/v1/models/"


@dataclass(frozen=True)
class Snapshot:
    view: CatalogView
    changes: ChangeLog
    tokens: dict[str, TokenEntry]
    built_at: float
    etag: bytes  # "<revision>" (see CatalogView.etag); the gzip-compressed representations
    # have their own, weak (the compressed bytes depend on the zlib build): W/"<revision>-gzip"
    etag_gzip: bytes
    list_all: Rendered
    models: dict[str, Rendered]
    # The same by path, `/v1/models/{id}`, for the fast path's one lookup (an id with a `/` is
    # not there: the route does not match it).
    by_path: dict[str, Rendered]
    # Filtered lists by query string, rendered on first use (bounded; dropped with the snapshot).
    responses: ResponseCache = field(default_factory=ResponseCache, compare=False)
    # The gateway exports by route (public.exports), rendered on first use.
    exports: dict[str, Rendered] = field(default_factory=dict, compare=False)

    @property
    def revision(self) -> int:
        return self.view.revision

    def cached(self, key: bytes) -> Rendered | None:
        return self.responses.get(key)

    def remember(self, key: bytes, body: bytes) -> None:
        self.responses.put(key, body)


def list_body(
    view: CatalogView,
    params: ListParams,
    tiers: Sequence[str],
    margin: Decimal,
    rendered: Mapping[str, Rendered] | None = None,
) -> bytes:
    """The JSON of a filtered list. With `rendered` (the snapshot's bytes of every served
    model), items are spliced from those bytes instead of being serialised again: the same
    text as `jsonb.dumps` of the list, at a fraction of the cost for thousands of items."""
    page = select_models(view.models, params, tiers=tiers, margin=margin)
    tail = jsonb.dumps(
        {"has_more": page.has_more, "next_after": page.next_after, "revision": view.revision}
    ).encode()
    if rendered is None:
        data = [render(m, params.tier, rates, decision) for m, rates, decision in page.items]
        return jsonb.dumps({"object": "list", "data": data}).encode()[:-1] + b", " + tail[1:]
    splice = _Splicer(params.tier, rendered)
    items = [splice(model, rates, decision) for model, rates, decision in page.items]
    return b'{"object": "list", "data": [' + b", ".join(items) + b"], " + tail[1:]


# A model's JSON (see public.schemas.public_model) has "credits" between "pricing" and
# "tier_access". Inside a JSON string every quote is escaped, so these separators with their
# bare quotes occur only as keys: the model's own, unless a nested object before them has
# keys of those names too (then each occurs more than once, and the item is serialised).
_CREDITS_KEY = b', "credits": '
_AFTER_CREDITS = b', "tier_access": '
_CREDITS = (
    b'{"per_1k_tokens": %s, "input_per_1k_tokens": %s, "output_per_1k_tokens": %s, "tier": %s}'
)


class _Splicer:
    """One list item as bytes: the model's rendered bytes, with the tier's credits and the
    access decision spliced in when the list is for a tier (what `render` builds as a dict)."""

    def __init__(self, tier: str | None, rendered: Mapping[str, Rendered]) -> None:
        self.tier_name = tier
        self.tier = jsonb.dumps(tier).encode() if tier is not None else None
        self.rendered = rendered
        self.access: dict[int, tuple[AccessDecision, bytes]] = {}

    def __call__(
        self, model: PublicModel, rates: CreditRates | None, decision: AccessDecision | None
    ) -> bytes:
        cached = self.rendered.get(model.id)
        body = cached.body if cached is not None else jsonb.dumps(model.body).encode()
        if self.tier is None or rates is None or decision is None:
            return body
        if body.count(_CREDITS_KEY) != 1 or body.count(_AFTER_CREDITS) != 1:
            # An object before "credits" with keys of those names (meta written with plain
            # SQL can hold anything): no splice point to trust.
            return jsonb.dumps(render(model, self.tier_name, rates, decision)).encode()
        start = body.index(_CREDITS_KEY) + len(_CREDITS_KEY)
        end = body.index(_AFTER_CREDITS, start)
        credits = _CREDITS % (
            _number(rates.blended_per_1k),
            _number(rates.input_per_1k),
            _number(rates.output_per_1k),
            self.tier,
        )
        return b"".join(
            (body[:start], credits, body[end:-1], b', "access": ', self._access(decision), b"}")
        )

    def _access(self, decision: AccessDecision) -> bytes:
        # Decisions are shared between models with the same rule: render each once per list.
        known = self.access.get(id(decision))
        if known is None or known[0] is not decision:
            known = (decision, jsonb.dumps(access_view(decision)).encode())
            self.access[id(decision)] = known
        return known[1]


def _number(value: Decimal) -> bytes:
    """A Decimal as jsonb.dumps writes it."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return f"{value:f}".encode()


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
        if model.state is LifecycleState.ARCHIVED:
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
        etag=view.etag.encode(),
        etag_gzip=f'W/"{view.etag[1:-1]}-gzip"'.encode(),
        list_all=Rendered(list_all),
        models=models,
        by_path={MODEL_PATH + key: value for key, value in models.items() if "/" not in key},
    )
