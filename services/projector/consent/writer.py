"""The one writer of the consent read model: per batch, one transaction with the rows the
events change, the tracking rows (an event applied before is skipped) and the next offsets.

The consent step follows the `consents` topic (the statements) and the `customers` topic (of
which only `customer.erased` matters); records that cannot be decoded, and events the database
refuses for good, go to `deadletter.consents` (the shared `LogStep`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from events.topics import Topic, topic_name
from services.projector.consent.fold import AddHistory, ConsentRow, Redact, SetCurrent, apply, subject_id_of
from services.projector.consent.tables import consent_erased_subjects, consent_history, consent_states
from services.projector.timeline.rows import utc
from shared.db.tracking import claim_unapplied, first_of_each, store_offsets
from shared.kafka.consumer import Consumed
from shared.kafka.deadletter import RawProducer
from shared.kafka.follower import Backoff, LogStep

PROJECTION = "consents"
SERVICE = "consents"
Position = tuple[str, int]
PERSONAL = {"email": None, "phone": None, "note": None}


def consent_topics(prefix: str) -> list[str]:
    return [topic_name(prefix, Topic.CONSENTS), topic_name(prefix, Topic.CUSTOMERS)]


def relevant(event: Event) -> bool:
    return event.type.startswith("consent.") or event.type == "customer.erased"


class ConsentWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, events: Sequence[Event], next_offsets: Mapping[Position, int]) -> int:
        """Applies the events not applied before, in order; returns how many it applied.

        On PostgreSQL the transaction is SERIALIZABLE: an erasure (customers topic) and a
        statement about the same subject (consents topic) may be written by two instances at
        once; the later one fails with a serialisation error, which the step retries, so the
        statement is redacted either way."""
        async with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="SERIALIZABLE")
            async with conn.begin():
                return await self._apply(conn, events, next_offsets)

    async def _apply(self, conn: AsyncConnection, events: Sequence[Event], next_offsets: Mapping[Position, int]) -> int:
        wanted = [e for e in events if relevant(e)]  # master data would only fill the tracking table
        todo = first_of_each(wanted, await claim_unapplied(conn, PROJECTION, (str(e.event_id) for e in wanted)))
        for event in todo:
            await apply_one(conn, event)
        await store_offsets(conn, PROJECTION, next_offsets)
        return len(todo)


def consent_step(writer: ConsentWriter, deadletters: RawProducer, topic_prefix: str,
                 backoff: Backoff = Backoff()) -> LogStep:
    async def write(consumed: Sequence[Consumed], next_offsets: Mapping[Position, int]) -> int:
        return await writer.write([c.event for c in consumed], next_offsets)

    return LogStep(SERVICE, write, deadletters, topic_prefix, backoff)


async def apply_one(conn: AsyncConnection, event: Event) -> None:
    current, erased = await _current(conn, event)
    for change in apply(event, current, erased):
        match change:
            case AddHistory(row=row):
                await conn.execute(consent_history.insert().values(**asdict(row)))
            case SetCurrent(row=row):
                await conn.execute(consent_states.delete().where(
                    consent_states.c.subject_id == row.subject_id, consent_states.c.purpose == row.purpose))
                await conn.execute(consent_states.insert().values(**asdict(row)))
            case Redact(subject_ids=ids):
                for table in (consent_states, consent_history):
                    await conn.execute(table.update().where(table.c.subject_id.in_(ids)).values(**PERSONAL))
                known = {row.subject_id for row in await conn.execute(sa.select(consent_erased_subjects).where(
                    consent_erased_subjects.c.subject_id.in_(ids)))}
                fresh = [{"subject_id": i} for i in dict.fromkeys(ids) if i not in known]
                if fresh:
                    await conn.execute(consent_erased_subjects.insert(), fresh)


async def _current(conn: AsyncConnection, event: Event) -> tuple[ConsentRow | None, bool]:
    """The subject's current row for the event's purpose, and whether the subject was erased."""
    purpose = event.payload_value("purpose")
    subject_id = subject_id_of(event) if purpose else None
    if subject_id is None:
        return None, False
    row = (await conn.execute(sa.select(consent_states).where(
        consent_states.c.subject_id == subject_id, consent_states.c.purpose == purpose))).first()
    erased = (await conn.execute(sa.select(consent_erased_subjects).where(
        consent_erased_subjects.c.subject_id == subject_id))).first() is not None
    return (row_from_db(row._asdict()) if row is not None else None), erased


def row_from_db(values: dict[str, Any]) -> ConsentRow:
    values = {**values, "occurred_at": utc(values["occurred_at"]), "recorded_at": utc(values["recorded_at"])}
    return ConsentRow(**values)
