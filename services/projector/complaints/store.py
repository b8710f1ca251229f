"""The complaints read model: writes inside a caller's transaction (with the tracking rows),
and the queries the detector, the timers and the API need.

Each complaint keeps its events; `refresh` folds them into the row (facts and clocks as of
`now`) and records how a clock ended, under the policy version it was measured with. An
outcome once recorded stays, unless a rebuild recomputes it explicitly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from events.codec import decode
from events.envelope import Event
from services.projector.complaints.clock import ClockReading, ClockState
from services.projector.complaints.detector import KnownComplaint
from services.projector.complaints.facts import ComplaintFacts, clock_of
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.tables import (
    complaint_events,
    complaint_threads,
    complaints,
    sla_fired_timers,
    sla_outcomes,
    sla_timer_claims,
)
from services.projector.complaints.views import Outcome
from services.projector.privacy import complaint_redaction

SLA_TYPES = ("sla.warning", "sla.breached")


def utc(value: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite hands them back without a zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def apply_events(
    conn: AsyncConnection, events: Sequence[Event], rules: SlaRules, now: datetime, trust_recorded_breaches: bool = True
) -> set[str]:
    """Records complaint and SLA events and refreshes the complaints they touch; returns their ids.

    With `trust_recorded_breaches`, a replayed `sla.breached` sets the clock's outcome under
    the policy version it names (the historic measurement); without, outcomes are left to
    the clocks under the current policies."""
    touched: set[str] = set()
    for event in events:
        if event.type in SLA_TYPES:
            await _record_timer(conn, event, trust_recorded_breaches)
            touched.add(event.payload.complaint_id)  # its state and next timer move on
        elif event.type.startswith("complaint."):
            await _record_event(conn, event)
            touched.add(event.payload.complaint_id)
    await refresh(conn, touched, rules, now)
    return touched


async def _record_event(conn: AsyncConnection, event: Event) -> None:
    complaint_id = event.payload.complaint_id
    exists = await conn.scalar(select(func.count()).select_from(complaint_events).where(complaint_events.c.event_id == str(event.event_id)))
    if exists:
        return
    seq = await conn.scalar(select(func.count()).select_from(complaint_events).where(complaint_events.c.complaint_id == complaint_id))
    await conn.execute(insert(complaint_events).values(
        event_id=str(event.event_id), complaint_id=complaint_id, type=event.type,
        occurred_at=utc(event.occurred_at), seq=seq, body=await complaint_redaction.stored_body(conn, event),
    ))


async def _record_timer(conn: AsyncConnection, event: Event, trust_recorded_breaches: bool) -> None:
    payload = event.payload
    point = payload.warn_point if event.type == "sla.warning" else "breach"
    key = (payload.complaint_id, payload.kind, point)
    # the same point may be in the log twice (a timer republished after a crash)
    await _insert_unless_present(conn, sla_fired_timers, {
        "complaint_id": key[0], "kind": key[1], "point": key[2], "event_id": str(event.event_id),
        "due_at": utc(payload.due_at), "policy": payload.policy, "policy_version": payload.policy_version,
        "fired_at": utc(event.recorded_at),
    })
    if event.type == "sla.breached" and trust_recorded_breaches:
        found = await conn.execute(select(sla_outcomes.c.outcome).where(
            sla_outcomes.c.complaint_id == payload.complaint_id, sla_outcomes.c.kind == payload.kind))
        if found.first() is None:
            await _insert_unless_present(conn, sla_outcomes, {
                "complaint_id": payload.complaint_id, "kind": payload.kind, "outcome": "breached", "business_seconds": None,
                "due_at": utc(payload.due_at), "concluded_at": None, "policy": payload.policy,
                "policy_version": payload.policy_version,
            })


async def _insert_unless_present(conn: AsyncConnection, table: Table, values: dict) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: waits for a concurrent insert of the same key to
    commit instead of failing after it."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(conn.dialect.name)
    if dialect is None:
        raise RuntimeError(f"database {conn.dialect.name!r} is not supported (use PostgreSQL or SQLite)")
    await conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


async def fired_points(conn: AsyncConnection, complaint_id: str) -> set[tuple[str, str]]:
    rows = await conn.execute(select(sla_fired_timers.c.kind, sla_fired_timers.c.point).where(
        sla_fired_timers.c.complaint_id == complaint_id))
    return {(kind, point) for kind, point in rows}


async def claimed_points(conn: AsyncConnection, complaint_id: str) -> set[tuple[str, str]]:
    """The points the timers published (or are publishing) for this complaint."""
    rows = await conn.execute(select(sla_timer_claims.c.kind, sla_timer_claims.c.point).where(
        sla_timer_claims.c.complaint_id == complaint_id))
    return {(kind, point) for kind, point in rows}


async def events_of(conn: AsyncConnection, complaint_id: str) -> list[Event]:
    rows = await conn.execute(select(complaint_events.c.body).where(complaint_events.c.complaint_id == complaint_id)
                              .order_by(complaint_events.c.occurred_at, complaint_events.c.seq))
    return [decode(body) for (body,) in rows]


async def refresh(conn: AsyncConnection, complaint_ids: Iterable[str], rules: SlaRules, now: datetime) -> None:
    for complaint_id in sorted(complaint_ids):
        events = await events_of(conn, complaint_id)
        if not any(e.type == "complaint.opened" for e in events):
            continue  # its opening has not arrived yet
        facts, state = clock_of(events, rules, now)
        fired = await fired_points(conn, complaint_id)
        await _write_row(conn, facts, state, state.next_point_at(fired), now)
        await _record_outcomes(conn, state)


async def _write_row(conn: AsyncConnection, facts: ComplaintFacts, state: ClockState, next_timer_at: datetime | None, now: datetime) -> None:
    values = {
        "customer_id": facts.customer_id, "email": facts.email, "phone": facts.phone, "customer_ref": facts.customer_ref,
        "origin": facts.origin, "channel": facts.channel, "subject": facts.subject, "priority": facts.priority,
        "segment": facts.segment, "team": facts.team, "status": state.status, "state": state.state,
        "opened_at": utc(facts.opened_at), "responded_at": utc(state.responded_at), "resolved_at": utc(state.resolved_at),
        "reopen_count": facts.reopen_count, "policy": state.policy, "policy_version": state.policy_version,
        "first_response_due": utc(state.first_response.due_at) if state.first_response else None,
        "resolution_due": utc(state.resolution.due_at) if state.resolution else None,
        "next_timer_at": utc(next_timer_at), "updated_at": utc(now),
    }
    result = await conn.execute(update(complaints).where(complaints.c.complaint_id == facts.complaint_id).values(**values))
    if result.rowcount == 0:
        await conn.execute(insert(complaints).values(complaint_id=facts.complaint_id, **values))
    for thread in facts.thread_keys:
        known = await conn.execute(select(complaint_threads.c.thread_key).where(
            complaint_threads.c.complaint_id == facts.complaint_id, complaint_threads.c.thread_key == thread))
        if known.first() is None:
            await conn.execute(insert(complaint_threads).values(complaint_id=facts.complaint_id, thread_key=thread))


async def _record_outcomes(conn: AsyncConnection, state: ClockState) -> None:
    for reading in (state.first_response, state.resolution):
        if reading is not None:
            await _record_outcome(conn, state, reading)


async def _record_outcome(conn: AsyncConnection, state: ClockState, reading: ClockReading) -> None:
    key = and_(sla_outcomes.c.complaint_id == state.complaint_id, sla_outcomes.c.kind == reading.kind)
    existing = (await conn.execute(select(sla_outcomes.c.outcome, sla_outcomes.c.concluded_at).where(key))).first()
    if reading.stopped_at is None:
        if existing is not None and existing.outcome == "met":
            await conn.execute(delete(sla_outcomes).where(key))  # reopened: the clock runs again
        return
    if existing is not None and existing.concluded_at is not None:
        return  # measured before: keeps its policy version
    concluded = {"business_seconds": reading.elapsed_seconds, "concluded_at": utc(reading.stopped_at)}
    if existing is not None:
        # breached by a timer while running; now it ended: keep the breach, add the figures
        await conn.execute(update(sla_outcomes).where(key).values(**concluded))
        return
    await _insert_unless_present(conn, sla_outcomes, {
        "complaint_id": state.complaint_id, "kind": reading.kind, "outcome": "breached" if reading.state == "breached" else "met",
        "due_at": utc(reading.due_at), "policy": state.policy, "policy_version": state.policy_version, **concluded,
    })


# ---- queries ----------------------------------------------------------------------------------


async def known_complaints(conn: AsyncConnection, event: Event) -> list[KnownComplaint]:
    """Complaints `event` may concern: of its mail thread, or of its customer."""
    conditions = []
    thread = event.payload_value("thread_key")
    if thread:
        conditions.append(complaints.c.complaint_id.in_(
            select(complaint_threads.c.complaint_id).where(complaint_threads.c.thread_key == thread)))
    for column, value in ((complaints.c.customer_id, event.customer_id), (complaints.c.email, event.contact.email),
                          (complaints.c.phone, event.contact.phone)):
        if value:
            conditions.append(column == value)
    if not conditions:
        return []
    rows = (await conn.execute(select(complaints).where(or_(*conditions)))).mappings().all()
    found = []
    for row in rows:
        threads = await conn.execute(select(complaint_threads.c.thread_key).where(complaint_threads.c.complaint_id == row["complaint_id"]))
        found.append(KnownComplaint(
            complaint_id=row["complaint_id"], status=row["status"], opened_at=utc(row["opened_at"]),  # type: ignore[arg-type]
            responded=row["responded_at"] is not None, resolved_at=utc(row["resolved_at"]),
            thread_keys=frozenset(t for (t,) in threads), customer_id=row["customer_id"], email=row["email"], phone=row["phone"],
        ))
    return found


async def due_for_timers(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[str]:
    rows = await conn.execute(select(complaints.c.complaint_id).where(
        complaints.c.next_timer_at.is_not(None), complaints.c.next_timer_at <= utc(now), complaints.c.status != "resolved",
    ).order_by(complaints.c.next_timer_at).limit(limit))
    return [complaint_id for (complaint_id,) in rows]


async def open_counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(complaints.c.state, func.count()).where(complaints.c.status != "resolved")
                              .group_by(complaints.c.state))
    return {state: count for state, count in rows}


async def complaint_row(conn: AsyncConnection, complaint_id: str) -> dict | None:
    row = (await conn.execute(select(complaints).where(complaints.c.complaint_id == complaint_id))).mappings().first()
    return dict(row) if row else None


async def drop_view(conn: AsyncConnection, outcomes: bool) -> None:
    """Empties the read model before a replay. The timers' claims stay: they record what was
    published, so nothing goes out twice; the fired points come back with the log's events."""
    await conn.execute(delete(complaint_events))
    await conn.execute(delete(sla_fired_timers))
    await conn.execute(delete(complaint_threads))
    await conn.execute(delete(complaints))
    if outcomes:
        await conn.execute(delete(sla_outcomes))


async def list_complaint_ids(
    conn: AsyncConnection, statuses: Sequence[str] | None, team: str | None, priority: str | None, limit: int | None
) -> list[str]:
    query = select(complaints.c.complaint_id)
    if statuses:
        query = query.where(complaints.c.status.in_(list(statuses)))
    if team:
        query = query.where(complaints.c.team == team)
    if priority:
        query = query.where(complaints.c.priority == priority)
    rows = await conn.execute(query.order_by(complaints.c.opened_at.desc()).limit(limit))
    return [complaint_id for (complaint_id,) in rows]


async def events_of_many(conn: AsyncConnection, complaint_ids: Sequence[str]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {complaint_id: [] for complaint_id in complaint_ids}
    for start in range(0, len(complaint_ids), 500):
        chunk = list(complaint_ids[start : start + 500])
        rows = await conn.execute(select(complaint_events.c.complaint_id, complaint_events.c.body)
                                  .where(complaint_events.c.complaint_id.in_(chunk))
                                  .order_by(complaint_events.c.occurred_at, complaint_events.c.seq))
        for complaint_id, body in rows:
            found[complaint_id].append(decode(body))
    return found


async def outcomes(conn: AsyncConnection) -> list[Outcome]:
    rows = await conn.execute(
        select(sla_outcomes.c.kind, sla_outcomes.c.outcome, sla_outcomes.c.business_seconds, complaints.c.channel,
               complaints.c.team, sla_outcomes.c.policy, sla_outcomes.c.policy_version)
        .join(complaints, complaints.c.complaint_id == sla_outcomes.c.complaint_id)
    )
    return [Outcome(*row) for row in rows]


async def complaint_ids_about(conn: AsyncConnection, customer_id: str, customer_ref: str | None, emails: Sequence[str],
                              phones: Sequence[str], limit: int = 20) -> list[str]:
    """Complaints of one customer or contact, by its id, number, addresses or phone numbers
    (a complaint opened before the sender was known names only the address); newest first."""
    conditions = [complaints.c.customer_id == customer_id]
    if customer_ref:
        conditions.append(complaints.c.customer_ref == customer_ref)
    if emails:
        conditions.append(complaints.c.email.in_(list(emails)))
    if phones:
        conditions.append(complaints.c.phone.in_(list(phones)))
    rows = await conn.execute(select(complaints.c.complaint_id).where(or_(*conditions))
                              .order_by(complaints.c.opened_at.desc()).limit(limit))
    return [complaint_id for (complaint_id,) in rows]
