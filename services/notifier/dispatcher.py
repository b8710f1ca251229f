"""Delivers the notifications that are due, exactly once in effect.

For each due row: claim it (lease), render, hand it over with `sending` committed just before
the handover, then record `sent` together with the `escalation.notified` event in the outbox,
then publish the outbox to Kafka. A transient failure schedules a retry with exponential
backoff and jitter; a permanent one (or the last allowed attempt) records `failed` with an
`escalation.failed` event and a dead letter.

The one window that remains: the process dies after the peer accepted the message and before
`sent` is committed (for SMTP: between the DATA command and the commit; for webhooks: during
the request). The row is then left in `sending`; once its lease expires it is reported as
in doubt: not sent again, `escalation.notified` with `in_doubt = true` and the Message-ID /
notification id, and `touchpoint_notifier_in_doubt_total` counts it. The Message-ID (derived
from the notification id) finds the mail in the relay's log; webhook receivers get the
notification id as `Idempotency-Key`."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from events.codec import decode
from services.notifier import sent_log, state_store
from services.notifier.delivery import (
    Mailer,
    PermanentDeliveryError,
    TransientDeliveryError,
    WebhookPoster,
    retry_delay,
)
from services.notifier.metrics import (
    NOTIFICATIONS_FAILED,
    NOTIFICATIONS_IN_DOUBT,
    NOTIFICATIONS_RETRIED,
    NOTIFICATIONS_SENT,
)
from services.notifier.rendering import message_id_for, render_escalation, render_webhook
from services.notifier.routing import Notification
from shared.config import Notifier as NotifierConfig
from shared.kafka.deadletter import DeadLetter, send_to_deadletter
from shared.kafka.errors import TransientError
from shared.kafka.publisher import Publisher
from shared.logging import correlation_scope

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AfterSend = Callable[[str], Awaitable[None]]


class OutcomePublisher(Publisher, Protocol):
    """Events and dead letters to Kafka (KafkaPublisher, InMemoryPublisher)."""

    async def send_raw(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]) -> None: ...


def is_customer_mail(n: Notification) -> bool:
    """Mail to the customer (a rule listing the address `customer`), not to the team."""
    email = n.trigger.customer_email
    return n.target_kind == "email" and bool(email) and n.target.strip().lower() == str(email).strip().lower()


def system_clock() -> datetime:
    return datetime.now(UTC)


async def no_pause(_: str) -> None:
    return None


@dataclass
class Dispatcher:
    engine: AsyncEngine
    mailer: Mailer
    webhooks: WebhookPoster
    publisher: OutcomePublisher
    sender: str
    public_url: str | None
    config: NotifierConfig
    topic_prefix: str = "touchpoint."
    lease: timedelta = timedelta(seconds=60)
    clock: Clock = system_clock
    rand: Callable[[], float] = random.random
    after_send: AfterSend = no_pause  # test hook: runs after the handover, before recording
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    contact_purpose: str = "contact"  # [consent] notifier_purpose: mail to a customer who withdrew it is not sent

    async def run_once(self) -> int:
        """Recovers dead claims, delivers what is due, publishes the outbox; returns deliveries tried."""
        for claimed in await sent_log.recover_expired(self.engine, self.clock()):
            await self._in_doubt(claimed)
        await self._publish_outbox_or_later()
        claimed = await sent_log.claim_due(self.engine, self.clock(), self.lease)
        if claimed:
            await asyncio.gather(*(self._deliver(item) for item in claimed))
            await self._publish_outbox_or_later()
        return len(claimed)

    async def _publish_outbox_or_later(self) -> None:
        # a Kafka outage must not stop people from being told; the reports wait in the outbox
        try:
            await self.publish_outbox()
        except TransientError as exc:
            log.warning("outcomes stay in the outbox until Kafka is back: %s", exc)

    async def run_forever(self) -> None:
        while True:
            tried = await self.run_once()
            if tried:
                continue
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self.config.poll_interval)
            except TimeoutError:
                pass

    async def _deliver(self, claimed: sent_log.Claimed) -> None:
        with correlation_scope(claimed.notification.trigger.correlation_id):
            await self._deliver_in_scope(claimed)

    async def _deliver_in_scope(self, claimed: sent_log.Claimed) -> None:
        n = claimed.notification
        message_id = message_id_for(n.notification_id, self.sender) if n.target_kind == "email" else None

        async def before_handover() -> None:
            await sent_log.mark_sending(self.engine, n.notification_id, message_id)

        if n.target_kind == "email" and await self._undeliverable(claimed):
            return
        if is_customer_mail(n) and await self._consent_withdrawn(claimed):
            return
        try:
            rendered = self._render(n)
        except Exception as exc:  # the same facts will not render later either: a permanent failure
            await self._fail(claimed, f"cannot render the notification: {type(exc).__name__}: {exc}")
            return
        try:
            if n.target_kind == "email":
                await self.mailer.send(rendered, before_handover)
            else:
                await self.webhooks.post(n.target, rendered, n.notification_id, before_handover)
        except sent_log.LostClaim as exc:
            log.warning("%s", exc)
            return
        except TransientDeliveryError as exc:
            await self._retry_or_fail(claimed, str(exc))
            return
        except PermanentDeliveryError as exc:
            await self._fail(claimed, str(exc))
            return
        await self.after_send(n.notification_id)
        await sent_log.record_sent(self.engine, claimed, message_id, self.clock())
        NOTIFICATIONS_SENT.labels(n.target_kind).inc()
        log.info("notification %s sent to %s", n.notification_id, n.target_kind)

    def _render(self, n: Notification) -> EmailMessage | dict[str, object]:
        if n.target_kind == "email":
            return render_escalation(n, self.sender, self.public_url, self.clock())
        return render_webhook(n, self.public_url)

    async def _undeliverable(self, claimed: sent_log.Claimed) -> bool:
        """A hard-bounced address is not written to: the notification fails, reported as such."""
        async with self.engine.connect() as conn:
            since = await state_store.undeliverable_since(conn, claimed.notification.target)
        if since is None:
            return False
        await self._fail(claimed, f"{claimed.notification.target} hard-bounced at {since.isoformat()}; not writing to it")
        return True

    async def _consent_withdrawn(self, claimed: sent_log.Claimed) -> bool:
        """Mail to a customer who withdrew the purpose it uses is not sent: it fails, reported as such."""
        n = claimed.notification
        keys = [f"email:{n.target.strip().lower()}"]
        keys += [f"customer_ref:{n.trigger.customer_ref}"] if n.trigger.customer_ref else []
        keys += list(n.trigger.complaint.keys) if n.trigger.complaint else []
        async with self.engine.connect() as conn:
            withdrawn = await state_store.consent_withdrawn(conn, keys, self.contact_purpose)
        if withdrawn is None:
            return False
        key, since = withdrawn
        kind = key.partition(":")[0]
        await self._fail(claimed, f"the customer withdrew consent to {self.contact_purpose} at {since.isoformat()} "
                         f"(recorded for their {kind}); not writing to them")
        return True

    async def _retry_or_fail(self, claimed: sent_log.Claimed, error: str) -> None:
        attempt = claimed.attempts + 1
        if attempt >= self.config.max_attempts:
            await self._fail(claimed, f"gave up after {attempt} attempts: {error}")
            return
        delay = retry_delay(attempt, self.config.retry_initial, self.config.retry_max, self.rand)
        await sent_log.schedule_retry(self.engine, claimed, error, self.clock() + timedelta(seconds=delay))
        NOTIFICATIONS_RETRIED.labels(claimed.notification.target_kind).inc()
        log.info(
            "notification %s: attempt %d failed, retry in %.1fs: %s",
            claimed.notification.notification_id,
            attempt,
            delay,
            error,
        )

    async def _fail(self, claimed: sent_log.Claimed, error: str) -> None:
        await sent_log.record_failed(self.engine, claimed, error, self.clock())
        NOTIFICATIONS_FAILED.labels(claimed.notification.target_kind).inc()
        log.error(
            "notification %s to %s failed: %s",
            claimed.notification.notification_id,
            claimed.notification.target_kind,
            error,
        )

    async def _in_doubt(self, claimed: sent_log.Claimed) -> None:
        with correlation_scope(claimed.notification.trigger.correlation_id):
            await self._record_in_doubt(claimed)

    async def _record_in_doubt(self, claimed: sent_log.Claimed) -> None:
        n = claimed.notification
        message_id = message_id_for(n.notification_id, self.sender) if n.target_kind == "email" else None
        await sent_log.record_sent(self.engine, claimed, message_id, self.clock(), in_doubt=True)
        NOTIFICATIONS_IN_DOUBT.labels(n.target_kind).inc()
        log.warning(
            "notification %s (%s) was handed over but its outcome was not recorded; not sending it again. "
            "Look for %s in the relay's log / the receiver to confirm delivery",
            n.notification_id,
            n.target_kind,
            message_id or f"Idempotency-Key {n.notification_id}",
        )

    async def publish_outbox(self) -> None:
        """Writes recorded outcomes to Kafka; a failure leaves them for the next round."""
        items = await sent_log.unpublished(self.engine)
        if not items:
            return
        events = [decode(item.body) for item in items if item.kind == "event"]
        if events:
            await self.publisher.publish(events)
        for item in items:
            if item.kind == "deadletter":
                letter = DeadLetter(
                    service="notifier",
                    reason=item.reason or "delivery failed",
                    original=item.body,
                    source="notifier",
                    key=item.outbox_id.encode(),
                )
                await send_to_deadletter(self.publisher, self.topic_prefix, letter)
        await sent_log.mark_published(self.engine, [item.outbox_id for item in items], self.clock())
