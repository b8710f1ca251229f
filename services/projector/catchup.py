"""Catching up in bulk: the projector's topics read from given positions to their end through
the shared follower (aiokafka directly; Faust costs ~300 µs per message) and the projector's
step. Used at start-up before the live agent takes over, and by `touchpoint rebuild`."""

from __future__ import annotations

from collections.abc import Mapping

from events.topics import EVENT_TOPICS, topic_name
from services.projector.consume import BatchProjector
from shared.config import Settings
from shared.kafka.follower import Progress, follow_in_bulk, read_ahead
from shared.kafka.security import client_options

__all__ = ["catch_up", "interaction_topics", "read_ahead"]
Position = tuple[str, int]


def interaction_topics(settings: Settings) -> list[str]:
    return [topic_name(settings.topic_prefix, topic) for topic in EVENT_TOPICS]


async def catch_up(settings: Settings, projector: BatchProjector, start: Mapping[Position, int],
                   progress: Progress | None = None, max_records: int = 5000) -> dict[Position, int]:
    """Projects everything from `start` to the end offsets seen now; returns the positions reached."""
    return await follow_in_bulk(settings.bootstrap_servers, interaction_topics(settings), projector.step, start,
                                client_id="touchpoint-projector-catchup", max_records=max_records, progress=progress,
                                client_options=client_options(settings))
