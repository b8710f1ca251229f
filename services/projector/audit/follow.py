"""The access audit's place in `touchpoint projector`: its own member of its own consumer group
(`<prefix>access-audit`) on the `audit` topic, next to the timeline's, through the shared
`LogStep`: undecodable records and rows the database refuses for good go to
`deadletter.projector` like the timeline's, transient failures are retried.

It runs on a thread with its own event loop, database engine and producer
(`follow_audit_apart`): opening sealed events may wait for the key store synchronously, and on
SQLite a write transaction of one follower left open while the other follower's loop waits for
the key store would lock the whole database until the busy timeout."""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.ext.asyncio import AsyncEngine

from events.topics import Topic, topic_name
from services.projector.audit.projection import PROJECTION
from services.projector.audit.writer import AuditWriter
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.tracking import load_offsets
from shared.kafka.deadletter import RawProducer
from shared.kafka.errors import classify
from shared.kafka.follower import LogStep, follow_as_member
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.security import client_options

SERVICE = "projector"  # dead letters go where the projector's others go
RETRY_DELAY_S = 2.0
log = logging.getLogger("touchpoint.audit")


def audit_topics(settings: Settings) -> list[str]:
    return [topic_name(settings.topic_prefix, Topic.AUDIT)]


def audit_step(engine: AsyncEngine, deadletters: RawProducer, topic_prefix: str) -> LogStep:
    return LogStep(SERVICE, AuditWriter(engine).write, deadletters, topic_prefix)


async def follow_audit(settings: Settings, engine: AsyncEngine, deadletters: RawProducer) -> None:
    """Projects the audit topic for ever; only a failure that will not go away ends it."""
    step = audit_step(engine, deadletters, settings.topic_prefix)

    async def stored_positions() -> dict[tuple[str, int], int]:
        async with engine.connect() as conn:
            return await load_offsets(conn, PROJECTION)

    while True:
        try:
            await follow_as_member(settings.bootstrap_servers, audit_topics(settings), step, stored_positions,
                                   group_id=f"{settings.topic_prefix}{PROJECTION}", client_id="touchpoint-access-audit",
                                   client_options=client_options(settings))
        except Exception as exc:
            failure = classify(exc)
            if not failure.transient:
                raise
            log.warning("access audit: %s; joining again in %.0fs", failure.reason, RETRY_DELAY_S)
            await asyncio.sleep(RETRY_DELAY_S)


def follow_audit_apart(settings: Settings, stopping: threading.Event) -> None:
    """`follow_audit` on this thread's own loop, engine and producer, until `stopping` is set;
    raises what ended it otherwise. Call it through `asyncio.to_thread`."""
    asyncio.run(_follow_until(settings, stopping))


async def _follow_until(settings: Settings, stopping: threading.Event) -> None:
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id="touchpoint-access-audit")
    following = asyncio.create_task(follow_audit(settings, engine, publisher))
    try:
        while not stopping.is_set() and not following.done():
            await asyncio.wait({following}, timeout=0.2)
        if following.done():
            following.result()
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await publisher.stop()
        await engine.dispose()
