"""The access audit's place in `touchpoint projector`: its own member of its own consumer group
(`<prefix>access-audit`) on the `audit` topic, next to the timeline's, through the shared
`LogStep`: undecodable records and rows the database refuses for good go to
`deadletter.projector` like the timeline's, transient failures are retried.

It runs on a thread with its own event loop, database engine and producer
(`shared/kafka/apart.py` says why)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from events.topics import Topic, topic_name
from services.projector.audit.projection import PROJECTION
from services.projector.audit.writer import AuditWriter
from shared.config import Settings
from shared.db.tracking import load_offsets
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import LogStep, follow_as_member_for_ever
from shared.kafka.security import client_options

SERVICE = "projector"  # dead letters go where the projector's others go
RETRY_DELAY_S = 2.0


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

    await follow_as_member_for_ever(settings.bootstrap_servers, audit_topics(settings), step, stored_positions,
                                    name="access audit", retry_delay=RETRY_DELAY_S,
                                    group_id=f"{settings.topic_prefix}{PROJECTION}", client_id="touchpoint-access-audit",
                                    client_options=client_options(settings))
