"""SLA timers: `sla.warning` and `sla.breached` when a running clock reaches a point.

Exactly once per complaint, clock kind and point, with any number of workers, restarts and
replays: the event id is derived from exactly those three, and each publication happens inside
a transaction that first inserts the point into `sla_timer_claims` (primary key), the timers'
own table. A second worker's insert waits for the first to commit and then fails, so it skips;
if publishing fails, the insert rolls back and the point is tried again. A crash between
Kafka's ack and the commit republishes the same event id, which consumers deduplicate.
Escalation mails outside business hours are the notifier's concern; the events are published
when due.

The timers write nothing else: the complaints processor records the published events in the
read model (fired points, the complaint's state and its next timer) like any other."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import ContactIdentifiers, Event
from events.ids import event_id_for
from events.sla import SlaBreached, SlaBreachedPayload, SlaWarning, SlaWarningPayload
from services.projector.complaints import metrics, store
from services.projector.complaints.clock import BREACH, ClockState, TimerPoint
from services.projector.complaints.facts import ComplaintFacts, clock_of
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.tables import sla_timer_claims
from shared.kafka.publisher import Publisher, prepare_keys
from shared.logging import correlation_scope

SOURCE = "projector:sla-timers"
log = logging.getLogger(__name__)


def timer_event_id(complaint_id: str, kind: str, point: str) -> str:
    event_type = "sla.breached" if point == BREACH else "sla.warning"
    return str(event_id_for(event_type, complaint_id, kind, point))


def due_timer_events(facts: ComplaintFacts, state: ClockState, fired: set[tuple[str, str]], now: datetime) -> list[Event]:
    """The timer events due at `now` and not fired yet, for clocks still live (a point reached
    before the clock stopped is part of its outcome, not news)."""
    live = {r.kind for r in (state.first_response, state.resolution) if r is not None and r.stopped_at is None}
    due = [p for p in state.due_points() if p.kind in live and (p.kind, p.label) not in fired]
    return [_event(facts, state, point, now) for point in due]


def _event(facts: ComplaintFacts, state: ClockState, point: TimerPoint, now: datetime) -> Event:
    reading = state.first_response if point.kind == "first_response" else state.resolution
    due_at = reading.due_at if reading and reading.due_at else point.at  # type: ignore[union-attr]
    envelope = {
        "event_id": timer_event_id(facts.complaint_id, point.kind, point.label),
        "occurred_at": point.at, "recorded_at": now, "source": SOURCE,
        "contact": ContactIdentifiers(email=facts.email, phone=facts.phone, customer_ref=facts.customer_ref),
        "customer_id": facts.customer_id, "correlation_id": facts.correlation_id or facts.complaint_id,
    }
    common = {"complaint_id": facts.complaint_id, "kind": point.kind, "due_at": due_at,
              "policy": state.policy, "policy_version": state.policy_version}
    if point.label == BREACH:
        return SlaBreached(**envelope, payload=SlaBreachedPayload(**common))
    return SlaWarning(**envelope, payload=SlaWarningPayload(**common, warn_point=point.label))


async def fire_due(
    engine: AsyncEngine, publisher: Publisher, rules: SlaRules, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> list[Event]:
    """Publishes every timer due now; returns what this worker published."""
    published: list[Event] = []
    at = now()
    async with engine.connect() as conn:
        candidates = await store.due_for_timers(conn, at)
    for complaint_id in candidates:
        async with engine.connect() as conn:
            events = await store.events_of(conn, complaint_id)
            fired = await store.claimed_points(conn, complaint_id)
        facts, state = clock_of(events, rules, at)
        for event in due_timer_events(facts, state, fired, at):
            if await _publish_once(engine, publisher, event):
                published.append(event)
                metrics.SLA_EVENTS.labels(type=event.type, kind=event.payload.kind).inc()
                with correlation_scope(event.correlation_id):
                    log.info("%s of complaint %s (%s)", event.type, complaint_id, event.payload.kind)
    return published


async def _publish_once(engine: AsyncEngine, publisher: Publisher, event: Event) -> bool:
    payload = event.payload
    await prepare_keys([event])  # not inside the transaction: on SQLite making a key would wait for it
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(sla_timer_claims).values(
                complaint_id=payload.complaint_id, kind=payload.kind, point=getattr(payload, "warn_point", BREACH),
                event_id=str(event.event_id), claimed_at=store.utc(event.recorded_at),
            ))
            await publisher.publish([event])
    except IntegrityError:
        log.debug("timer %s already fired by another worker", event.event_id)
        return False
    return True
