"""The timeline and complaint states as they were recorded up to an instant ("as of").

Recorded time, not occurred time: a mail that arrived at 14:05 about a call at 13:50 is not
in the 14:03 view. The timeline writer keeps every state of each entry as a version stamped
with its event's recorded time; the view at `t` takes, per entry, the newest version stamped
at or before `t`, and shows it on the timeline that version named (an entry linked to the
customer later still shows under the unmatched contact). Complaint states are their clocks
computed at `t` from the complaint's events recorded up to `t`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.projector.api.queries import entry_json
from services.projector.complaints import store as complaint_store
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.views import board_entry
from services.projector.timeline.rows import utc
from services.projector.timeline.tables import TIMELINE

V = TIMELINE.versions
LATER = V.alias("later")
STEP = timedelta(microseconds=1)


class BadInstant(ValueError):
    pass


def parse_instant(text: str) -> datetime:
    """ISO-8601 with a zone offset (`2026-11-30T14:03:00+01:00` or `...Z`), as UTC."""
    try:
        # a "+" left unencoded in a query string arrives as a space
        moment = datetime.fromisoformat(text.strip().replace(" ", "+") if "T" in text else text.strip())
        if moment.tzinfo is None:
            raise BadInstant(f"as_of: {text!r} has no zone; add Z or an offset like +01:00")
        return utc(moment)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, BadInstant):
            raise
        raise BadInstant(f"as_of: {text!r} is not an ISO-8601 instant; give one like 2026-11-30T14:03:00Z") from None


def visible_at(as_of: datetime):  # type: ignore[no-untyped-def]
    """Versions that were an entry's newest state at `as_of`."""
    newer = exists().where(LATER.c.id == V.c.id, LATER.c.version_at > V.c.version_at, LATER.c.version_at <= as_of)
    return (V.c.version_at <= as_of) & ~newer


async def timeline_page(conn: AsyncConnection, owner_id: str, as_of: datetime, limit: int, channel: str | None,
                        before: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    """Like `queries.timeline_page` (newest first, same cursor), as recorded up to `as_of`."""
    query = select(V).where(V.c.owner_id == owner_id, visible_at(as_of))
    if channel:
        query = query.where(V.c.channel == channel)
    if before is not None:
        stamp, last_id = before
        query = query.where(V.c.occurred_at <= stamp, or_(V.c.occurred_at < stamp, V.c.id > last_id))
    rows = await conn.execute(query.order_by(V.c.occurred_at.desc(), V.c.id).limit(limit))
    return [entry_json(row._mapping) for row in rows]


async def previous_change(conn: AsyncConnection, owner_id: str, as_of: datetime) -> datetime | None:
    """The instant just before the last change recorded on this timeline up to `as_of`: one
    step back in the time control (None when nothing was recorded before)."""
    found = await conn.scalar(select(func.max(V.c.version_at)).where(V.c.owner_id == owner_id, V.c.version_at <= as_of))
    return utc(found) - STEP if found is not None else None


async def complaint_states(conn: AsyncConnection, owner_id: str, as_of: datetime, rules: SlaRules) -> list[dict[str, Any]]:
    """The complaints on this timeline at `as_of`, each with its clocks computed at `as_of` from
    its events recorded up to then; newest opened first."""
    ids = sorted(set(await conn.scalars(select(V.c.complaint_id).where(
        V.c.owner_id == owner_id, V.c.complaint_id.isnot(None), visible_at(as_of)))))
    events = await complaint_store.events_of_many(conn, ids)
    states = []
    for complaint_id in ids:
        recorded = [e for e in events[complaint_id] if utc(e.recorded_at) <= as_of]
        if any(e.type == "complaint.opened" for e in recorded):
            state = board_entry(recorded, rules, as_of)
            state.pop("_urgency", None)
            states.append(state)
    return sorted(states, key=lambda s: s["opened_at"] or "", reverse=True)
