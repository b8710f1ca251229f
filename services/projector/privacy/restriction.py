"""Restriction instead of erasure where a legal hold applies (GDPR Art. 18 with Art. 17 (3) (b)).

An erasure destroys at once the keys of its subjects that are under no hold. A key whose
retention class has not expired yet (business letters kept 6 years, HGB §257) is kept, and the
subject's data under it is restricted until the hold ends: recorded (blind subject, period,
until; no personal data) in `privacy_restrictions`, which makes the key open nothing any more in
any process (the key store skips it), announced in `customer.erased` (`restricted`) so that the
read models show those entries as "restricted", and shredded by the retention job when the class
expires."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.privacy import Restriction
from events.registry import EVENT_TYPES
from services.projector.privacy.redaction import RESTRICTED_SUMMARY
from services.projector.timeline.tables import TIMELINE
from shared.privacy.retention import Period, RetentionRules
from shared.privacy.store import restrictions

Key = tuple[str, str]  # (subject, period)


@dataclass(frozen=True)
class Decision:
    """What an erasure does with a subject's keys at `now`."""

    destroy: tuple[Key, ...]
    hold: tuple[tuple[Key, datetime], ...]  # kept until the hold ends

    def restricted(self, rules: RetentionRules) -> tuple[Restriction, ...]:
        """Per class and year under hold, for `customer.erased` (no subject in it)."""
        periods: dict[str, datetime] = {}
        for (_, period), until in self.hold:
            periods[period] = until
        found = []
        for period, until in sorted(periods.items()):
            parsed = Period.parse(period)
            assert parsed.retention_class is not None
            found.append(Restriction(retention_class=parsed.retention_class, year=parsed.year, until=until,
                                     types=rules.types_of(parsed.retention_class, EVENT_TYPES)))
        return tuple(found)


def decide(keys: Iterable[Key], rules: RetentionRules, now: datetime) -> Decision:
    destroy, hold = [], []
    for subject, period in sorted(set(keys)):
        until = rules.held(period, now)
        if until is None:
            destroy.append((subject, period))
        else:
            hold.append(((subject, period), until))
    return Decision(tuple(destroy), tuple(hold))


async def record(conn: AsyncConnection, decision: Decision, erasure_id: str, customer_ref: str | None,
                 now: datetime) -> None:
    """Records the holds (a subject restricted again keeps its first record)."""
    for (subject, period), until in decision.hold:
        exists = (await conn.execute(sa.select(restrictions.c.subject).where(
            restrictions.c.subject == subject, restrictions.c.period == period))).first()
        if exists is None:
            await conn.execute(restrictions.insert().values(
                subject=subject, period=period, until=until, erasure_id=erasure_id, customer_ref=customer_ref,
                restricted_at=now))


async def end(conn: AsyncConnection, period: str, now: datetime) -> int:
    """The hold on `period` ended and its keys are shredded; returns how many restrictions ended."""
    result = await conn.execute(restrictions.update().where(
        restrictions.c.period == period, restrictions.c.shredded_at.is_(None)).values(shredded_at=now))
    return result.rowcount or 0


@dataclass(frozen=True)
class Pending:
    count: int
    earliest_end: datetime | None


async def pending(engine: AsyncEngine) -> Pending:
    query = sa.select(sa.func.count(), sa.func.min(restrictions.c.until)).where(restrictions.c.shredded_at.is_(None))
    async with engine.connect() as conn:
        count, earliest = (await conn.execute(query)).one()
    return Pending(count or 0, earliest)


async def restricted_entries(engine: AsyncEngine, timeline_ids: Iterable[str]) -> list[dict[str, object]]:
    """The timeline entries shown as restricted on these timelines, for the export: what they were
    (type, channel, time) and until when their data is kept, without the data."""
    entries = TIMELINE.entries
    query = sa.select(entries.c.event_id, entries.c.type, entries.c.channel, entries.c.direction,
                      entries.c.occurred_at, entries.c.details).where(
        entries.c.owner_id.in_(list(timeline_ids)), entries.c.summary == RESTRICTED_SUMMARY).order_by(
        entries.c.occurred_at, entries.c.event_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [{"event_id": row.event_id, "type": row.type, "channel": row.channel, "direction": row.direction,
             "occurred_at": row.occurred_at.isoformat(), "restricted_until": (row.details or {}).get("until")}
            for row in rows]
