"""The consent projection inside `touchpoint projector`: a member of its own consumer group
(`<prefix>consents`) following the consents and customers topics from the positions stored
with the read model, through the consent step (dead letters, retries) and writer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.consent.writer import PROJECTION, ConsentWriter, consent_step, consent_topics
from shared.config import Settings
from shared.db.tracking import load_offsets
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import follow_as_member_for_ever
from shared.kafka.security import client_options

RETRY_DELAY_S = 2.0


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}consents"


async def follow_consents(settings: Settings, engine: AsyncEngine, deadletters: RawProducer) -> None:
    """Runs until cancelled; only a broken connection to Kafka ends the member, which then joins again."""
    step = consent_step(ConsentWriter(engine), deadletters, settings.topic_prefix)

    async def stored_positions() -> dict[tuple[str, int], int]:
        async with engine.connect() as conn:
            return await load_offsets(conn, PROJECTION)

    await follow_as_member_for_ever(settings.bootstrap_servers, consent_topics(settings.topic_prefix), step,
                                    stored_positions, name="consents", retry_delay=RETRY_DELAY_S,
                                    group_id=group_id(settings), client_id="touchpoint-consents", max_records=2000,
                                    client_options=client_options(settings))
