"""The consent projection inside `touchpoint projector`: a member of its own consumer group
(`<prefix>consents`) following the consents and customers topics from the positions stored
with the read model, through the consent step (dead letters, retries) and writer."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from services.projector.consent.writer import PROJECTION, ConsentWriter, consent_step, consent_topics
from shared.config import Settings
from shared.db.tracking import load_offsets
from shared.kafka.deadletter import RawProducer
from shared.kafka.errors import classify
from shared.kafka.follower import follow_as_member
from shared.kafka.security import client_options

log = logging.getLogger("touchpoint.consents")
RETRY_DELAY_S = 2.0


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}consents"


async def follow_consents(settings: Settings, engine: AsyncEngine, deadletters: RawProducer) -> None:
    """Runs until cancelled; only a broken connection to Kafka ends the member, which then joins again."""
    step = consent_step(ConsentWriter(engine), deadletters, settings.topic_prefix)

    async def stored_positions() -> dict[tuple[str, int], int]:
        async with engine.connect() as conn:
            return await load_offsets(conn, PROJECTION)

    while True:
        try:
            await follow_as_member(settings.bootstrap_servers, consent_topics(settings.topic_prefix), step,
                                   stored_positions, group_id=group_id(settings), client_id="touchpoint-consents",
                                   max_records=2000, client_options=client_options(settings))
        except Exception as exc:
            failure = classify(exc)
            if not failure.transient:
                raise
            log.warning("consents: %s; joining again in %.0fs", failure.reason, RETRY_DELAY_S)
            await asyncio.sleep(RETRY_DELAY_S)
