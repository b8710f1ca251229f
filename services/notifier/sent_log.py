"""The sent-log: one row per notification holding its intent and its outcome, plus the
outbox of events and dead letters still to be written to Kafka.

A row moves pending → claimed → sending → sent (or back to pending for a retry, or to
failed). `claimed` means a dispatcher holds it but has not handed anything over yet;
`sending` is committed just before the message is handed over (the SMTP DATA command, the
webhook request) and `sent` right after the peer accepted it, together with the
`escalation.notified` event in the outbox. Each step is its own transaction; the row is only
ever moved from the state the step expects, so two dispatchers never send the same row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.envelope import Event
from services.notifier import tables as t
from services.notifier.outcomes import failed_event, notified_event
from services.notifier.records import notification_from_json, notification_to_json
from services.notifier.routing import Notification
from shared.kafka.publisher import encoded


@dataclass(frozen=True)
class Claimed:
    notification: Notification
    attempts: int  # attempts made before this one


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: str
    kind: str  # event | deadletter
    body: bytes
    reason: str | None


async def record_intents(
    conn: AsyncConnection, notifications: Sequence[Notification], now: datetime
) -> list[Notification]:
    """Inserts the notifications not known yet; returns those (a known id is a quiet duplicate)."""
    if not notifications:
        return []
    ids = [n.notification_id for n in notifications]
    known = {
        row[0]
        for row in await conn.execute(
            select(t.notifications.c.notification_id).where(t.notifications.c.notification_id.in_(ids))
        )
    }
    new = [n for n in notifications if n.notification_id not in known]
    if new:
        await conn.execute(t.notifications.insert(), [_intent_row(n, now) for n in new])
    return new


def _intent_row(n: Notification, now: datetime) -> dict[str, object]:
    return {
        "notification_id": n.notification_id,
        "trigger_event_id": n.trigger.event_id,
        "trigger_type": n.trigger.type,
        "complaint_id": n.trigger.complaint.complaint_id if n.trigger.complaint else None,
        "clock_kind": n.trigger.clock_kind,
        "rule": n.rule,
        "level": n.level,
        "target_kind": n.target_kind,
        "target": n.target,
        "body": notification_to_json(n),
        "status": "pending",
        "held": n.held,
        "next_attempt_at": t.utc(n.send_at),
        "attempts": 0,
        "created_at": t.utc(now),
    }


async def claim_due(engine: AsyncEngine, now: datetime, lease: timedelta, limit: int = 20) -> list[Claimed]:
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(t.notifications.c.notification_id, t.notifications.c.body, t.notifications.c.attempts)
                .where(t.notifications.c.status == "pending", t.notifications.c.next_attempt_at <= t.utc(now))
                .order_by(t.notifications.c.next_attempt_at)
                .limit(limit)
            )
        ).all()
        claimed = []
        for notification_id, body, attempts in rows:
            result = await conn.execute(
                update(t.notifications)
                .where(t.notifications.c.notification_id == notification_id, t.notifications.c.status == "pending")
                .values(status="claimed", lease_until=t.utc(now + lease))
            )
            if result.rowcount == 1:
                claimed.append(Claimed(notification_from_json(body), attempts))
        return claimed


async def mark_sending(engine: AsyncEngine, notification_id: str, message_id: str | None) -> None:
    """Committed before the message is handed over: from here on a crash leaves the row in doubt."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(t.notifications)
            .where(t.notifications.c.notification_id == notification_id, t.notifications.c.status == "claimed")
            .values(status="sending", message_id=message_id)
        )
        if result.rowcount != 1:
            raise LostClaim(f"notification {notification_id} is no longer claimed by this dispatcher")


class LostClaim(RuntimeError):
    """The row changed under us (lease expired and recovered elsewhere): do not hand it over."""


async def record_sent(
    engine: AsyncEngine, claimed: Claimed, message_id: str | None, now: datetime, in_doubt: bool = False
) -> Event:
    attempts = claimed.attempts + 1
    event = notified_event(claimed.notification, attempts, message_id, now, in_doubt=in_doubt)
    # sealed before the transaction, off the event loop when a data key must be made: on SQLite
    # making it waits for any open write transaction, this process's own included
    [body] = await encoded([event])
    async with engine.begin() as conn:
        await conn.execute(
            update(t.notifications)
            .where(t.notifications.c.notification_id == claimed.notification.notification_id)
            .values(
                status="in_doubt" if in_doubt else "sent",
                attempts=attempts,
                message_id=message_id,
                finished_at=t.utc(now),
                lease_until=None,
            )
        )
        await _outbox(conn, f"event:{event.event_id}", "event", body, None, now)
    return event


async def schedule_retry(engine: AsyncEngine, claimed: Claimed, error: str, next_at: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(t.notifications)
            .where(t.notifications.c.notification_id == claimed.notification.notification_id)
            .values(
                status="pending",
                attempts=claimed.attempts + 1,
                last_error=error[:2000],
                next_attempt_at=t.utc(next_at),
                lease_until=None,
            )
        )


async def record_failed(engine: AsyncEngine, claimed: Claimed, error: str, now: datetime) -> Event:
    """Gives up: `escalation.failed` and a dead letter (the notification itself) go to the outbox."""
    attempts = claimed.attempts + 1
    notification = claimed.notification
    event = failed_event(notification, attempts, error, now)
    [sealed] = await encoded([event])  # as in record_sent
    async with engine.begin() as conn:
        await conn.execute(
            update(t.notifications)
            .where(t.notifications.c.notification_id == notification.notification_id)
            .values(
                status="failed", attempts=attempts, last_error=error[:2000], finished_at=t.utc(now), lease_until=None
            )
        )
        await _outbox(conn, f"event:{event.event_id}", "event", sealed, None, now)
        body = notification_to_json(notification).encode()
        await _outbox(conn, f"deadletter:{notification.notification_id}", "deadletter", body, error[:2000], now)
    return event


async def recover_expired(engine: AsyncEngine, now: datetime) -> list[Claimed]:
    """Rows whose dispatcher died: `claimed` ones go back to pending (nothing was handed over);
    `sending` ones are returned as in doubt (the peer may have the message) and not sent again."""
    async with engine.begin() as conn:
        expired = and_(t.notifications.c.lease_until.is_not(None), t.notifications.c.lease_until < t.utc(now))
        await conn.execute(
            update(t.notifications)
            .where(expired, t.notifications.c.status == "claimed")
            .values(status="pending", lease_until=None)
        )
        rows = (
            await conn.execute(
                select(t.notifications.c.body, t.notifications.c.attempts).where(
                    expired, t.notifications.c.status == "sending"
                )
            )
        ).all()
        return [Claimed(notification_from_json(body), attempts) for body, attempts in rows]


async def _outbox(
    conn: AsyncConnection, outbox_id: str, kind: str, body: bytes, reason: str | None, now: datetime
) -> None:
    exists = (await conn.execute(select(t.outbox.c.outbox_id).where(t.outbox.c.outbox_id == outbox_id))).first()
    if exists is None:
        await conn.execute(
            t.outbox.insert().values(outbox_id=outbox_id, kind=kind, body=body, reason=reason, created_at=t.utc(now))
        )


async def unpublished(engine: AsyncEngine, limit: int = 100) -> list[OutboxItem]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.outbox.c.outbox_id, t.outbox.c.kind, t.outbox.c.body, t.outbox.c.reason)
            .where(t.outbox.c.published_at.is_(None))
            .order_by(t.outbox.c.created_at)
            .limit(limit)
        )
        return [OutboxItem(*row) for row in rows]


async def mark_published(engine: AsyncEngine, outbox_ids: Sequence[str], now: datetime) -> None:
    if outbox_ids:
        async with engine.begin() as conn:
            await conn.execute(
                update(t.outbox).where(t.outbox.c.outbox_id.in_(list(outbox_ids))).values(published_at=t.utc(now))
            )


async def status_of(engine: AsyncEngine, notification_id: str) -> dict[str, object] | None:
    """The row as a dict (for operators and tests)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(t.notifications).where(t.notifications.c.notification_id == notification_id))
        ).first()
        return dict(row._mapping) if row is not None else None
