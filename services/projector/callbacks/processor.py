"""The callback processor: follows the calls topic and the callbacks topic, decides callbacks
from calls (published to Kafka) and projects callback events into the queue.

Per batch, one transaction holds the queue's changes, what the decisions remember, the
tracking rows and the stored positions; derived events are published (and acknowledged)
before it commits. A crash before the commit replays the batch, derives the same ids and
publishes them again, which the tracking deduplicates. Derived events are projected at once,
so the next call in the same batch sees the callback it opened or closed; their copies
coming back from Kafka are skipped as applied. The positions of the two sides are tracked
under separate names, so `touchpoint rebuild callbacks` replays the callbacks topic alone.

The timers (`fire_due`) open callbacks whose grace time passed and report those that wait
too long, in the same kind of transaction; a lock keeps them from interleaving with a batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from events.privacy import CustomerErased
from events.topics import Topic, topic_name
from services.projector.callbacks import decide, store
from services.projector.callbacks.erasure import redact_callbacks
from services.projector.callbacks.rules import CallbackRules
from shared.db.tracking import claim_unapplied, first_of_each, load_offsets, store_offsets
from shared.kafka.consumer import Consumed
from shared.kafka.follower import Backoff, LogStep
from shared.kafka.publisher import keys_first, require_keys
from shared.logging import correlation_scope

PROJECTION = "callbacks"  # the queue, fed from the callbacks topic
DECIDER = "callback-decider"  # decisions from the calls topic
SERVICE = "callbacks"
log = logging.getLogger(__name__)


def callbacks_topic(prefix: str) -> str:
    return topic_name(prefix, Topic.CALLBACKS)


class CallbackProcessor:
    def __init__(self, engine: AsyncEngine, publisher, topic_prefix: str, rules: CallbackRules,  # type: ignore[no-untyped-def]
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), backoff: Backoff = Backoff()) -> None:
        self._engine, self._publisher, self._prefix = engine, publisher, topic_prefix
        self._rules, self._now = rules, now
        self._lock = asyncio.Lock()
        self.step = LogStep(SERVICE, self.write, publisher, topic_prefix, backoff)

    def topics(self) -> list[str]:
        # customers: an erasure redacts the numbers the queue holds
        return [topic_name(self._prefix, Topic.CALLS), topic_name(self._prefix, Topic.CUSTOMERS),
                callbacks_topic(self._prefix)]

    async def start_offsets(self) -> dict[tuple[str, int], int]:
        async with self._engine.connect() as conn:
            return {**await load_offsets(conn, DECIDER), **await load_offsets(conn, PROJECTION)}

    async def write(self, consumed: Sequence[Consumed], offsets: Mapping[tuple[str, int], int]) -> list[Event]:
        """The one writer: applies the events and stores `offsets` in one transaction; returns
        the callback events it derived and published. Raises on any failure (the `LogStep`
        retries or dead-letters)."""
        derived = await keys_first(lambda: self._write_once(consumed, offsets))
        _log(derived)
        return derived

    async def _write_once(self, consumed: Sequence[Consumed], offsets: Mapping[tuple[str, int], int]) -> list[Event]:
        own = callbacks_topic(self._prefix)
        async with self._lock, self._engine.begin() as conn:
            derived = await self._decide(conn, [c.event for c in consumed if c.topic != own])
            await project(conn, [c.event for c in consumed if c.topic == own])
            await store_offsets(conn, DECIDER, {p: o for p, o in offsets.items() if p[0] != own})
            await store_offsets(conn, PROJECTION, {p: o for p, o in offsets.items() if p[0] == own})
            if derived:
                require_keys(derived)
                await self._publisher.publish(derived)
        return derived

    async def _decide(self, conn: AsyncConnection, events: list[Event]) -> list[Event]:
        # of the customers topic only erasures matter: master data would only fill the tracking table
        events = [e for e in events if e.type.startswith("call.") or isinstance(e, CustomerErased)]
        derived: list[Event] = []
        for event in first_of_each(events, await claim_unapplied(conn, DECIDER, (str(e.event_id) for e in events))):
            derived += await self._decide_one(conn, event)
        return derived

    async def _decide_one(self, conn: AsyncConnection, event: Event) -> list[Event]:
        if isinstance(event, CustomerErased):
            await redact_callbacks(conn, event)
            return []
        phone = decide.customer_number(event) if event.type in ("call.answered", "call.ended") else None
        if phone is None:
            return []
        decision = decide.decide_call(event, await store.open_callback_for(conn, phone),
                                      await store.reached_at(conn, phone), self._rules)
        if decision.pending is not None:
            await store.add_pending(conn, decision.pending)
        if decision.reached is not None:
            await store.record_reached(conn, *decision.reached)
        await project(conn, decision.events)
        return list(decision.events)

    async def fire_due(self) -> list[Event]:
        """Opens the callbacks whose grace time passed, and reports those waiting too long."""
        now = self._now()
        fired = await keys_first(lambda: self._fire_due_at(now))
        _log(fired)
        return fired

    async def _fire_due_at(self, now: datetime) -> list[Event]:
        async with self._lock, self._engine.begin() as conn:
            fired: list[Event] = []
            for pending in await store.due_pending(conn, now):
                event = decide.fire(pending, await store.open_callback_for(conn, pending.phone), now)
                await project(conn, [event])
                await store.drop_pending(conn, pending)
                fired.append(event)
            for row in await store.waiting_for_escalation(conn):
                late = decide.overdue(store.as_open(row), self._rules, now)
                if late is not None:
                    await project(conn, [late])
                    fired.append(late)
            if fired:
                require_keys(fired)
                await self._publisher.publish(fired)
        return fired


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Applies the callback events not applied before (each once), with their tracking rows."""
    await store.apply_events(conn, first_of_each(events, await claim_unapplied(
        conn, PROJECTION, (str(e.event_id) for e in events))))


def _log(events: Sequence[Event]) -> None:
    for event in events:
        with correlation_scope(event.correlation_id):
            log.info("%s for callback %s, caused by %s", event.type, event.payload.callback_id, event.causation_id)
