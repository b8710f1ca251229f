"""The retention job: shreds the keys of every retention class whose period ended.

`due(...)` (pure, `shared/privacy/retention.py`) decides from the key periods and `now` which
classes and years expired; `run_retention(...)` announces each with `privacy.expired`, then
destroys its keys for every subject, ends the restrictions waiting for it, and records what it
did (class, year, how many keys; no personal data). Publishing first keeps it repairable: when
destroying fails, the next run finds the keys, destroys them and publishes again (the event id
is fixed by class and year, so read models apply it once). `every_hour(...)` runs it on a
schedule inside the projector; the clock is injectable for tests."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from events.ids import event_id_for
from events.privacy import PrivacyExpired, PrivacyExpiredPayload
from events.registry import EVENT_TYPES
from services.projector.privacy import restriction
from shared.kafka.errors import TransientError
from shared.kafka.publisher import Publisher
from shared.privacy.master import MasterKey
from shared.privacy.retention import Expiry, RetentionRules, expired, expiries
from shared.privacy.runtime import active_sealer
from shared.privacy.store import KeyTable, key_periods

log = logging.getLogger("touchpoint.retention")
INTERVAL_S = 3600.0
Clock = Callable[[], datetime]

expiry_records = sa.Table(
    "privacy_expiries", sa.MetaData(),
    sa.Column("expiry_id", sa.String(64), primary_key=True),
    sa.Column("retention_class", sa.String(64), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("keys_destroyed", sa.Integer, nullable=False),
    sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Shredded:
    expiry: Expiry
    keys_destroyed: int
    restrictions_ended: int


def expired_event(expiry: Expiry, rules: RetentionRules, now: datetime) -> PrivacyExpired:
    return PrivacyExpired(
        event_id=event_id_for("privacy.expired", expiry.retention_class, expiry.year), occurred_at=now,
        recorded_at=now, source="retention",
        payload=PrivacyExpiredPayload(retention_class=expiry.retention_class, year=expiry.year,
                                      types=rules.types_of(expiry.retention_class, EVENT_TYPES),
                                      expires_at=expiry.expires_at, keys_destroyed=expiry.keys))


async def due(engine: AsyncEngine, rules: RetentionRules, now: datetime) -> list[Expiry]:
    """What would be shredded at `now` (the dry run)."""
    return expired(await key_periods(engine), rules, now)


async def upcoming(engine: AsyncEngine, rules: RetentionRules) -> list[Expiry]:
    """Every class and year with keys, soonest expiry first (for /ops)."""
    return expiries(await key_periods(engine), rules)


async def run_retention(engine: AsyncEngine, master: MasterKey, publisher: Publisher, rules: RetentionRules,
                        now: datetime) -> list[Shredded]:
    keys = KeyTable(engine, master)
    done = []
    for expiry in expired(await key_periods(engine), rules, now):
        await publisher.publish([expired_event(expiry, rules, now)])
        subjects = await keys.destroy_period(expiry.period)
        sealer = active_sealer()
        if sealer is not None:
            sealer.forget(subjects)
        async with engine.begin() as conn:
            ended = await restriction.end(conn, expiry.period, now)
            await conn.execute(expiry_records.insert().values(
                expiry_id=uuid.uuid4().hex, retention_class=expiry.retention_class, year=expiry.year,
                expires_at=expiry.expires_at, keys_destroyed=len(subjects), shredded_at=now))
        log.info("retention shredded %s of %s: %d key(s), %d restriction(s) ended", expiry.retention_class,
                 expiry.year, len(subjects), ended)
        done.append(Shredded(expiry, len(subjects), ended))
    return done


async def every_hour(run: Callable[[datetime], Awaitable[object]], stop: asyncio.Event, clock: Clock = system_clock,
                     interval: float = INTERVAL_S) -> None:
    """Runs `run(clock())` now and then every `interval` seconds until `stop` is set. A failed run
    (database or Kafka away) is logged and tried again at the next tick: nothing is lost by waiting."""
    while not stop.is_set():
        try:
            await run(clock())
        except (TransientError, SQLAlchemyError, OSError):  # the next tick retries; the projector goes on
            log.exception("retention run failed; trying again in %.0f s", interval)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
