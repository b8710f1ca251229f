"""The complaints processor: reads the interaction topics and the complaints topic, derives
complaint events from interactions (published to Kafka) and projects complaint events into
the read model.

Per batch, one transaction holds the read-model changes, the tracking rows and the stored
positions; derived events are published (and acknowledged) before it commits. A crash before
the commit replays the batch, derives the same ids and republishes them, which consumers
deduplicate. Derived events are projected at once, so the next interaction in the same batch
already sees the complaint it opened; their copies coming back from Kafka are skipped as
already applied. Positions of the two sides are kept under separate tracking names, so that
`rebuild sla` can replay the complaints topic without deriving anything again.

This is the only writer of the complaints read model: agent actions and SLA timers publish
events and leave the tables to it, and `rebuild sla` replays through `project`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from events.topics import Topic, topic_name
from services.projector.complaints import metrics, store
from services.projector.complaints.detector import DetectorConfig, detect
from services.projector.complaints.policy import SlaRules
from services.projector.privacy.complaint_redaction import REDACTING, redact_complaints
from services.projector.complaints.segments import apply_customer_event, segment_for
from shared.db.tracking import claim_unapplied, first_of_each, load_offsets, store_offsets
from shared.kafka.consumer import Batch, Consumed
from shared.kafka.follower import Backoff, LogStep
from shared.kafka.publisher import KeysNeeded, keys_first, keys_missing
from shared.logging import correlation_scope

PROJECTION = "complaints"  # the read model fed from the complaints topic
DETECTOR = "complaint-detector"  # complaint detection from the interaction topics
SERVICE = "complaints"
# customers: master data with the segments that select SLA policies
INTERACTION_TOPICS = (Topic.EMAIL, Topic.CALLS, Topic.WEBFORMS, Topic.CUSTOMERS)
CUSTOMER_TYPES = ("customer.registered", "contact.linked", "contact.unlinked")
log = logging.getLogger(__name__)


def interaction_topics(prefix: str) -> list[str]:
    return [topic_name(prefix, topic) for topic in INTERACTION_TOPICS]


def complaints_topic(prefix: str) -> str:
    return topic_name(prefix, Topic.COMPLAINTS)


class ComplaintProcessor:
    def __init__(
        self, engine: AsyncEngine, publisher, topic_prefix: str, rules: SlaRules, detector: DetectorConfig,  # type: ignore[no-untyped-def]
        now: Callable[[], datetime] = lambda: datetime.now(UTC), backoff: Backoff = Backoff(),
    ) -> None:
        self._engine, self._publisher, self._prefix = engine, publisher, topic_prefix
        self._rules, self._detector, self._now = rules, detector, now
        # dead-letters what cannot be decoded or stored, retries what is transient
        self.step = LogStep(SERVICE, self.write, publisher, topic_prefix, backoff)

    def topics(self) -> list[str]:
        return [*interaction_topics(self._prefix), complaints_topic(self._prefix)]

    async def start_offsets(self) -> dict[tuple[str, int], int]:
        async with self._engine.connect() as conn:
            return {**await load_offsets(conn, DETECTOR), **await load_offsets(conn, PROJECTION)}

    async def handle(self, batch: Batch) -> list[Event]:
        """Writes one batch of decoded events (see `write`); returns the complaint events it derived."""
        return await self.write(batch.events, batch.next_offsets())

    async def write(self, consumed: Sequence[Consumed], offsets: Mapping[tuple[str, int], int]) -> list[Event]:
        """The one writer: applies the events and stores `offsets` in one transaction; returns
        the complaint events it derived and published. Raises on any failure (the caller's
        `LogStep` retries or dead-letters)."""
        derived = await keys_first(lambda: self._write_once(consumed, offsets))
        for event in derived:
            metrics.COMPLAINT_EVENTS_DETECTED.labels(type=event.type).inc()
            with correlation_scope(event.correlation_id):
                log.info("%s for complaint %s, caused by %s", event.type, event.payload.complaint_id, event.causation_id)
        return derived

    async def _write_once(self, consumed: Sequence[Consumed], offsets: Mapping[tuple[str, int], int]) -> list[Event]:
        complaints = complaints_topic(self._prefix)
        async with self._engine.begin() as conn:
            derived = await self._detect(conn, [c.event for c in consumed if c.topic != complaints])
            await self._project(conn, [c.event for c in consumed if c.topic == complaints])
            await store_offsets(conn, DETECTOR, {p: o for p, o in offsets.items() if p[0] != complaints})
            await store_offsets(conn, PROJECTION, {p: o for p, o in offsets.items() if p[0] == complaints})
            if derived:
                await self._publisher.publish(derived)
        return derived

    async def _detect(self, conn: AsyncConnection, events: list[Event]) -> list[Event]:
        derived: list[Event] = []
        needing_keys: list[Event] = []  # derived events whose keys are made outside the transaction
        # claimed up front: a batch that ends in KeysNeeded or an error rolls its claims back
        for event in first_of_each(events, await claim_unapplied(conn, DETECTOR, (str(e.event_id) for e in events))):
            if event.type in REDACTING:  # an erasure or an expiry
                await redact_complaints(conn, event)
                continue
            if event.type in CUSTOMER_TYPES:
                await apply_customer_event(conn, event)
                continue
            segment = await segment_for(conn, event)
            found = detect(event, await store.known_complaints(conn, event), self._detector, segment)
            if found and (needing_keys or keys_missing(found)):
                # they would be stored sealed here: collect the batch's missing keys in one pass
                # (what follows is not projected, so it may differ; the batch runs again anyway)
                needing_keys += found
                continue
            if found:
                # a copy may have come back through Kafka already (crash after publishing)
                await project(conn, found, self._rules, self._now())
                derived += found
        if needing_keys:
            raise KeysNeeded(needing_keys)
        return derived

    async def _project(self, conn: AsyncConnection, events: list[Event]) -> None:
        await project(conn, events, self._rules, self._now())

    async def refresh_open(self) -> None:
        """Brings the clocks of unresolved complaints up to the current policies (they may have
        changed since the last run), so that their next timers are where the timers look."""
        async with self._engine.begin() as conn:
            ids = await store.list_complaint_ids(conn, ("open", "paused"), None, None, None)
            await store.refresh(conn, ids, self._rules, self._now())


async def project(conn: AsyncConnection, events: Sequence[Event], rules: SlaRules, now: datetime,
                  trust_recorded_breaches: bool = True) -> list[Event]:
    """Applies the complaint and SLA events not applied yet (each once, also when the log holds
    it twice) and tracks them, inside the caller's transaction; returns those it applied."""
    todo = first_of_each(events, await claim_unapplied(conn, PROJECTION, (str(e.event_id) for e in events)))
    if todo:
        await store.apply_events(conn, todo, rules, now, trust_recorded_breaches)
    return todo
