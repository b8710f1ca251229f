"""Consuming one event: remember what matters, find triggers, route them, and record the
notifications owed — all in one transaction with the tracking row, so a redelivered event
(rebalance, crash before the offset commit) changes nothing and owes nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import Event
from services.notifier.durations import parse_duration
from services.notifier.metrics import NOTIFICATIONS_HELD, NOTIFICATIONS_PLANNED
from services.notifier.routing import Notification, route_escalation
from services.notifier.sent_log import record_intents
from services.notifier.state import changes_for
from events.privacy import CustomerErased, PrivacyExpired
from services.notifier.erasure import expire_notifier, redact_notifier
from services.notifier.state_store import apply_changes, load_view
from services.notifier.triggers import Trigger, detect_triggers
from shared.config import Calendar, RoutingRule
from shared.config import Notifier as NotifierConfig
from shared.db.tracking import mark_applied, unapplied
from shared.kafka.consumer import Batch, Consumed, decode_record
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import Backoff, LogStep
from shared.logging import correlation_scope

log = logging.getLogger(__name__)

TRACKING_NAME = "notifier"
SERVICE = "notifier"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class EventHandler:
    engine: AsyncEngine
    config: NotifierConfig
    rules: Sequence[RoutingRule]
    calendars: Mapping[str, Calendar]
    default_timezone: str = "UTC"
    clock: Callable[[], datetime] = _now
    on_planned: Callable[[], None] = field(default=lambda: None)  # wakes the dispatcher

    def _current(self, trigger: Trigger) -> bool:
        """A trigger from long ago (the log read from its beginning) is history, not an emergency."""
        if self.config.max_trigger_age is None:
            return True
        if trigger.occurred_at >= self.clock() - parse_duration(self.config.max_trigger_age):
            return True
        log.info("%s of %s is older than notifier.max_trigger_age; nobody is notified", trigger.type, trigger.event_id)
        return False

    async def handle(self, event: Event) -> list[Notification]:
        """Applies one event; returns the notifications it newly owes."""
        event_id = str(event.event_id)
        async with self.engine.begin() as conn:
            if not await unapplied(conn, TRACKING_NAME, [event_id]):
                return []
            if isinstance(event, CustomerErased | PrivacyExpired):
                await (redact_notifier(conn, event) if isinstance(event, CustomerErased) else expire_notifier(conn, event))
                await mark_applied(conn, TRACKING_NAME, [event_id])
                return []
            view = await load_view(conn, event)
            changes = changes_for(event, view, parse_duration(self.config.unanswered_within))
            notifications = [
                notification
                for trigger in detect_triggers(event, view, self.config)
                if self._current(trigger)
                for notification in route_escalation(trigger, self.rules, self.calendars, self.default_timezone)
            ]
            if not changes and not notifications:
                return []  # nothing to remember: applying it again is a no-op anyway
            await apply_changes(conn, changes, event.occurred_at)
            new = await record_intents(conn, notifications, self.clock())
            await mark_applied(conn, TRACKING_NAME, [event_id])
        for notification in new:
            NOTIFICATIONS_PLANNED.labels(notification.target_kind).inc()
            log.info("%s: notification %s planned by rule %s (%s)", notification.trigger.type,
                     notification.notification_id, notification.rule, notification.target_kind)
            if notification.held:
                NOTIFICATIONS_HELD.labels(notification.target_kind).inc()
        if new:
            self.on_planned()
        return new


def step_for(handler: EventHandler, deadletters: RawProducer, topic_prefix: str, backoff: Backoff = Backoff()) -> LogStep:
    """The shared consumer step around the handler: a record that is no event, or an event the
    database refuses for good, goes to `deadletter.notifier` and is skipped; a transient failure
    is retried with backoff until it goes away."""

    async def write(consumed: Sequence[Consumed], _offsets: object) -> None:
        for item in consumed:  # positions: the handler's tracking rows, Faust's commits
            with correlation_scope(item.event.correlation_id):
                await handler.handle(item.event)

    return LogStep(SERVICE, write, deadletters, topic_prefix, backoff)


async def handle_record(
    handler: EventHandler | LogStep,
    deadletters: RawProducer,
    topic_prefix: str,
    value: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
) -> None:
    """Decodes a Kafka record and applies it through the notifier's step."""
    step = handler if isinstance(handler, LogStep) else step_for(handler, deadletters, topic_prefix)
    item = decode_record(topic, partition, offset, key, value)
    await step.handle(Batch(events=[item]) if isinstance(item, Consumed) else Batch(invalid=[item]))
