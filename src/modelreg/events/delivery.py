"""Webhook delivery: the audit log is the outbox, each subscription's cursor says how far it got.

At least once and in order per subscription: a message is sent only after every earlier one was
acknowledged (2xx), and the cursor moves past a message only once it was. A subscription is
claimed with SELECT ... FOR UPDATE SKIP LOCKED for the whole delivery, so two instances never
deliver its events at once. A failure is retried with exponential backoff and jitter; a message
that keeps failing past the retry window marks the subscription failing (paused).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from modelreg import metrics
from modelreg.audit import repository as audit_repository
from modelreg.audit.models import AuditEvent
from modelreg.background import BackgroundLoop, wait_woken
from modelreg.config import WebhookSettings
from modelreg.db import jsonb
from modelreg.events import repository
from modelreg.events.exceptions import TargetRefused
from modelreg.events.models import WebhookAttempt, WebhookSubscription
from modelreg.events.targets import check_target
from modelreg.events.types import EventType, RecordedChange, event_types_of, message_id, payload

log = logging.getLogger(__name__)

# How often the failing-subscriptions gauge is recounted when nothing was delivered, and at
# most how often while deliveries go on (a count after every round cost a query per change).
FAILING_RECOUNT_S = 5.0
FAILING_RECOUNT_BUSY_S = 0.5


def recorded(event: AuditEvent) -> RecordedChange:
    return RecordedChange(
        catalog_revision=int(event.catalog_revision or 0),
        occurred_at=event.occurred_at,
        actor=event.actor,
        action=event.action,
        model_id=event.model_id,
        model_version=event.model_version,
        after=event.after,
        diff=event.diff,
        reason=event.reason,
    )


def retry_delay(attempt: int, settings: WebhookSettings, rng: Callable[[], float]) -> float:
    """Exponential backoff with jitter: the n-th failure waits base * 2**(n-1), at most the
    maximum, scaled by a random factor in [0.5, 1)."""
    exponent = min(attempt - 1, 40)
    delay = min(settings.retry_max_delay_s, settings.retry_base_s * 2.0**exponent)
    return delay * (0.5 + rng() / 2)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None


class Dispatcher(BackgroundLoop):
    """Delivers due messages of every subscription; woken on each catalog change, and every
    `poll_interval_s` for retries."""

    name = "webhook-dispatch"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        *,
        client: httpx.AsyncClient | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.rng = rng
        self.client = client or httpx.AsyncClient(
            timeout=settings.timeout_s, follow_redirects=False
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        await super().stop()
        await self.client.aclose()

    async def _run(self) -> None:
        counted_at = 0.0
        while True:
            self._wake.clear()
            try:
                served = await self.deliver_due()
                since = time.monotonic() - counted_at
                if since > FAILING_RECOUNT_S or (served and since > FAILING_RECOUNT_BUSY_S):
                    counted_at = time.monotonic()
                    async with self.sessionmaker() as session:
                        metrics.WEBHOOK_FAILING.set(await repository.count_failing(session))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("webhook delivery round failed; retrying", exc_info=True)
            await wait_woken(self._wake, self.settings.poll_interval_s)

    async def deliver_due(self) -> int:
        """Deliver until no subscription has a due message (or other instances hold them);
        the number of batches delivered. One claim at first; then as many at once as
        subscriptions are still due (at most `concurrency`), counted with one query rather
        than found by claims that come back empty."""
        served = 0
        claims = 1
        while True:
            results = await asyncio.gather(*(self.deliver_next() for _ in range(claims)))
            served += sum(results)
            if not any(results):
                return served
            async with self.sessionmaker() as session:
                due = await repository.count_due(session)
            if due == 0:
                return served
            claims = min(self.settings.concurrency, due)

    async def deliver_next(self) -> bool:
        """Claim one due subscription and deliver a batch of its messages; False when none."""
        async with self.sessionmaker() as session, session.begin():
            subscription = await repository.claim_due(session)
            if subscription is None:
                return False
            await self._deliver(session, subscription)
            return True

    async def _deliver(self, session: AsyncSession, subscription: WebhookSubscription) -> None:
        until = await audit_repository.current_revision(session)
        events = await audit_repository.events_after_revision(
            session, subscription.cursor_revision, until, self.settings.batch_size
        )
        wanted = set(subscription.event_types)
        signer = Webhook(subscription.secret)
        for event in events:
            change = recorded(event)
            types = [t for t in event_types_of(change) if t.value in wanted]
            for part, event_type in enumerate(types):
                if part < subscription.cursor_part:
                    continue
                outcome = await self._send(subscription, signer, change, event_type)
                self._log(session, subscription, change, event_type, outcome)
                if not outcome.ok:
                    await self._failed(session, subscription, outcome)
                    return
                subscription.cursor_revision = change.catalog_revision - 1
                subscription.cursor_part = part + 1
                subscription.attempts = 0
                subscription.retrying_since = None
                subscription.next_attempt_at = None
                subscription.last_error = None
            subscription.cursor_revision = change.catalog_revision
            subscription.cursor_part = 0
        if len(events) < self.settings.batch_size:
            subscription.cursor_revision = max(subscription.cursor_revision, until)
            subscription.cursor_part = 0
        await session.flush()

    async def _send(
        self,
        subscription: WebhookSubscription,
        signer: Webhook,
        change: RecordedChange,
        event_type: EventType,
    ) -> Outcome:
        msg_id = message_id(change.catalog_revision, event_type)
        body = jsonb.dumps(payload(change, event_type))
        sent_at = datetime.now().astimezone()
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signer.sign(msg_id, sent_at, body),
            "user-agent": "modelreg-webhooks",
        }
        started = time.perf_counter()
        try:
            await check_target(subscription.url, allow_private=self.settings.allow_private_targets)
            response = await self.client.post(subscription.url, content=body, headers=headers)
        except TargetRefused as exc:
            return self._outcome(started, None, exc.message)
        except httpx.HTTPError as exc:
            return self._outcome(started, None, f"{type(exc).__name__}: {exc}"[:500])
        ok = 200 <= response.status_code < 300
        return self._outcome(
            started, response.status_code, None if ok else f"HTTP {response.status_code}"
        )

    @staticmethod
    def _outcome(started: float, status_code: int | None, error: str | None) -> Outcome:
        elapsed = time.perf_counter() - started
        metrics.WEBHOOK_LATENCY.observe(elapsed)
        metrics.WEBHOOK_DELIVERIES.labels("delivered" if error is None else "failed").inc()
        return Outcome(error is None, status_code, round(elapsed * 1000, 3), error)

    def _log(
        self,
        session: AsyncSession,
        subscription: WebhookSubscription,
        change: RecordedChange,
        event_type: EventType,
        outcome: Outcome,
    ) -> None:
        repository.add_attempt(
            session,
            WebhookAttempt(
                subscription_id=subscription.id,
                message_id=message_id(change.catalog_revision, event_type),
                event_type=event_type.value,
                catalog_revision=change.catalog_revision,
                status="delivered" if outcome.ok else "failed",
                response_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
            ),
        )

    async def _failed(
        self, session: AsyncSession, subscription: WebhookSubscription, outcome: Outcome
    ) -> None:
        now = await repository.now(session)
        subscription.attempts += 1
        subscription.last_error = outcome.error
        if subscription.retrying_since is None:
            subscription.retrying_since = now
        delay = retry_delay(subscription.attempts, self.settings, self.rng)
        subscription.next_attempt_at = now + timedelta(seconds=delay)
        if now - subscription.retrying_since >= timedelta(seconds=self.settings.retry_window_s):
            subscription.failing_since = now
            log.warning(
                "webhook %s marked failing after %d attempts: %s",
                subscription.id,
                subscription.attempts,
                outcome.error,
            )
        await session.flush()
