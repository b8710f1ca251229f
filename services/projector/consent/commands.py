"""Write side: an agent records consent given or withdrawn. Loads the subject and its current
state through `conn`, asks the pure `decide`, publishes the event (returning after Kafka
acknowledged it) and can wait briefly until the projection shows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from services.projector.api import queries as rows
from services.projector.consent.decide import RecordConsent, decide
from services.projector.consent.queries import consents_of
from services.projector.consent.tables import consent_history
from services.projector.customers.commands import published
from shared.kafka.publisher import Publisher

Clock = Callable[[], datetime]


async def record(conn: AsyncConnection, publisher: Publisher, clock: Clock, command: RecordConsent,
                 purposes: list[str]) -> Event:
    owner = await rows.customer(conn, command.customer_id)
    current = "unknown"
    if owner is not None:
        found = await consents_of(conn, owner, purposes)
        current = next((p["state"] for p in found["purposes"] if p["purpose"] == command.purpose), "unknown")
    return await published(publisher, decide(command, owner, current, purposes, clock()))  # type: ignore[arg-type]


async def applied(engine: AsyncEngine, event: Event, within: float = 3.0) -> bool:
    """True once the consent projection holds `event` (polled for up to `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        async with engine.connect() as conn:
            found = (await conn.execute(sa.select(consent_history.c.event_id).where(
                consent_history.c.event_id == str(event.event_id)))).first()
        if found is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
