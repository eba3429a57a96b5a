"""The live change stream (`GET /v1/catalog/events`): one Server-Sent Event per model change,
with the catalog revision as its id.

Fed by the snapshot store's reloads (the snapshot's change log names the models changed at each
revision); a client that reconnects with `Last-Event-ID` is first sent what it missed, read from
the audit log, then joins the live stream: nothing is skipped and nothing sent twice.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from sse_starlette import EventSourceResponse, ServerSentEvent

from modelreg import metrics
from modelreg.audit import repository as audit_repository
from modelreg.auth.dependencies import public_access
from modelreg.config import StreamSettings
from modelreg.db import jsonb
from modelreg.exceptions import ModelRegError
from modelreg.public.snapshot import Snapshot
from modelreg.public.store import SnapshotStore

# Live events a slow subscriber may have waiting; past that it is dropped and, when it
# reconnects with Last-Event-ID, catches up from the audit log.
QUEUE_SIZE = 1000


class StreamFull(ModelRegError):
    status_code = 503
    code = "stream_full"

    def __init__(self, limit: int):
        super().__init__(f"this instance already streams to {limit} clients; try another")


@dataclass(frozen=True)
class ChangeEvent:
    """One event: `reset` when changes happened that the log cannot name (refetch)."""

    revision: int
    kind: str
    data: str


@dataclass(eq=False)
class Subscriber:
    start: int
    queue: asyncio.Queue[ChangeEvent | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )


def change_data(snapshot: Snapshot, revision: int, model_id: str) -> str:
    """The event's JSON: the revision, the model id, and the model as the instance serves it
    now (null when it is not served)."""
    model = snapshot.view.by_id.get(model_id)
    return jsonb.dumps(
        {
            "revision": revision,
            "modelId": model_id,
            "state": None if model is None else model.state.value,
            "model": None if model is None else model.body,
        }
    )


class ChangeStream:
    def __init__(self, store: SnapshotStore, settings: StreamSettings) -> None:
        self.store = store
        self.settings = settings
        self.subscribers: set[Subscriber] = set()
        # The last revision sent to live subscribers (None before the first snapshot).
        self.sent_through: int | None = None
        store.after_reload.append(self._on_reload)

    def subscribe(self) -> Subscriber:
        if len(self.subscribers) >= self.settings.max_subscribers:
            raise StreamFull(self.settings.max_subscribers)
        start = self.sent_through if self.sent_through is not None else 0
        subscriber = Subscriber(start=start)
        self.subscribers.add(subscriber)
        metrics.STREAM_SUBSCRIBERS.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        metrics.STREAM_SUBSCRIBERS.set(len(self.subscribers))

    def _on_reload(self) -> None:
        snapshot = self.store.current
        if snapshot is None:
            return
        last = self.sent_through
        self.sent_through = snapshot.revision
        if last is None or snapshot.revision <= last:
            return
        events: list[ChangeEvent] = []
        log = snapshot.changes
        if log.complete_after > last:
            events.append(ChangeEvent(log.complete_after, "reset", "{}"))
            last = log.complete_after
        start = bisect.bisect_right(log.entries, (last, "\U0010ffff"))
        for revision, model_id in log.entries[start:]:
            if revision <= snapshot.revision:
                events.append(
                    ChangeEvent(revision, "change", change_data(snapshot, revision, model_id))
                )
        for subscriber in list(self.subscribers):
            for event in events:
                try:
                    subscriber.queue.put_nowait(event)
                except asyncio.QueueFull:
                    self._drop(subscriber)
                    break

    def _drop(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    async def backlog(
        self, engine: AsyncEngine, after: int, until: int
    ) -> AsyncIterator[ChangeEvent]:
        """The model changes of revisions (after, until], from the audit log."""
        async with engine.connect() as conn:
            found = await audit_repository.changes_between(conn, after, until)
        snapshot = self.store.current
        if snapshot is None:
            return
        for revision, model_id in found:
            if model_id is not None:
                yield ChangeEvent(revision, "change", change_data(snapshot, revision, model_id))

    async def events(self, subscriber: Subscriber, after: int | None) -> AsyncIterator[ChangeEvent]:
        """What a subscriber is sent: the backlog since `after` (if given), then live events."""
        sent = subscriber.start
        if after is not None and after < subscriber.start:
            async for missed in self.backlog(self.store.engine, after, subscriber.start):
                yield missed
        elif after is not None:
            sent = after
        while True:
            live = await subscriber.queue.get()
            if live is None:
                return
            if live.revision > sent:
                sent = live.revision
                yield live


router = APIRouter(prefix="/v1", tags=["public"], dependencies=[Depends(public_access)])


@router.get("/catalog/events", summary="Live catalog changes (Server-Sent Events)")
async def catalog_events(
    request: Request,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, description="resume after this revision")
    ] = None,
    since: Annotated[
        int | None, Query(ge=0, description="start after this revision (as Last-Event-ID)")
    ] = None,
) -> EventSourceResponse:
    """One `change` event per model change, the revision as its id, the model as served now
    (`model: null` when it is not). A `reset` event means changes happened that cannot be named:
    fetch the whole list. Reconnect with `Last-Event-ID` to resume with no gap. Comments are sent
    as heartbeats; 503 when the instance streams to too many clients."""
    stream: ChangeStream = request.app.state.stream
    subscriber = stream.subscribe()
    after = last_event_id if last_event_id is not None else since

    async def send() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in stream.events(subscriber, after):
                yield ServerSentEvent(data=event.data, event=event.kind, id=str(event.revision))
        finally:
            stream.unsubscribe(subscriber)

    return EventSourceResponse(send(), ping=stream.settings.heartbeat_s)
