"""Running a log follower on a thread of its own, with its own event loop, database engine and
producer, beside the service's main loop.

Opening sealed events may wait for the key store synchronously; with two followers on one loop
and SQLite, a write transaction one of them left open while the loop waits for the key store
locks the whole database until the busy timeout. Apart, each follower's waits stay its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.config import Settings
from shared.db.engine import make_engine
from shared.kafka.deadletter import RawProducer
from shared.kafka.publisher import KafkaPublisher

Follow = Callable[[Settings, AsyncEngine, RawProducer], Awaitable[None]]


def follow_apart(settings: Settings, follow: Follow, client_id: str, stopping: threading.Event) -> None:
    """`follow(settings, engine, dead_letter_producer)` on this thread's own loop until `stopping`
    is set; raises what ended it otherwise. Call it through `asyncio.to_thread`."""
    asyncio.run(_follow_until(settings, follow, client_id, stopping))


async def _follow_until(settings: Settings, follow: Follow, client_id: str, stopping: threading.Event) -> None:
    engine = make_engine(settings.db_url)
    publisher = KafkaPublisher.for_settings(settings, client_id=client_id)
    following = asyncio.create_task(follow(settings, engine, publisher))
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
