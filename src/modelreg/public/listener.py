"""Keep the snapshot current: LISTEN for changes, and check the revision every few seconds.

One dedicated connection per instance. On a notification the store reloads (coalesced); when no
notification came for `poll_interval_s`, the revision is compared with the database's, which
heals a missed notification. The connection is re-established with backoff; while the database
is unreachable the last snapshot keeps being served.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg

from modelreg import metrics
from modelreg.audit.repository import CURRENT_REVISION_SQL, NOTIFY_CHANNEL
from modelreg.background import BackgroundLoop
from modelreg.public.store import SnapshotStore

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 5.0


class CatalogListener(BackgroundLoop):
    name = "catalog-listener"

    def __init__(self, store: SnapshotStore, conninfo: str):
        self.store = store
        self.conninfo = conninfo
        self.connected = False
        # Revisions announced but not yet served, with the time they were committed.
        self._pending: dict[int, float] = {}
        store.after_reload.append(self._record_lag)

    async def _run(self) -> None:
        backoff = 0.1
        poll = self.store.settings.snapshot.poll_interval_s
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=3
                ) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._set_connected(True)
                    backoff = 0.1
                    await self._check(conn)  # catch up on what happened while away
                    while True:
                        async for notify in conn.notifies(timeout=poll):
                            self._on_notify(notify.payload)
                        await self._check(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_connected(False)
                self.store.database_ok = False
                log.warning("catalog listener: %s; reconnecting in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        metrics.LISTENER_CONNECTED.set(1 if value else 0)

    def _on_notify(self, payload: str) -> None:
        # "<revision>:<model id>:<epoch>", and a model id may itself contain ":".
        revision, _, rest = payload.partition(":")
        _, _, committed = rest.rpartition(":")
        served = self.store.revision
        try:
            announced, at = int(revision), float(committed)
        except ValueError:
            self.store.request_reload()
            return
        if served is not None and announced <= served:
            # Served already (this instance's own write, caught up before it answered): no
            # reload to ask for, and no propagation to time.
            return
        self._pending[announced] = at
        self.store.request_reload()

    async def _check(self, conn: psycopg.AsyncConnection) -> None:
        """Compare our revision with the database's; reload on a difference."""
        cursor = await conn.execute(CURRENT_REVISION_SQL)
        row = await cursor.fetchone()
        self.store.database_ok = True
        if row is not None and int(row[0]) != self.store.revision:
            self.store.request_reload()
        else:
            self.store.confirmed_at = time.time()
        await self.store.wait_idle()

    def _record_lag(self) -> None:
        served = self.store.revision
        if served is None:
            return
        now = time.time()
        for revision in [r for r in self._pending if r <= served]:
            metrics.NOTIFICATION_LAG.observe(max(0.0, now - self._pending.pop(revision)))
