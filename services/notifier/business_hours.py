"""Opening hours of a configured calendar, just enough for routing: is it open at a moment,
and when does it open next. `None` (or the calendar "24/7") is always open.

Hours are wall-clock times in the calendar's timezone (else the `[sla]` timezone); holidays
are closed all day. The SLA clocks need richer calendar arithmetic (durations in business
time); this module deliberately stays at these two questions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.config import Calendar

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24/7"


def parse_span(span: str) -> tuple[time, time]:
    """ "08:00-12:00" -> (08:00, 12:00); "00:00-24:00" means the whole day."""
    try:
        start, end = (part.strip() for part in span.split("-"))
        opens = time.fromisoformat(start)
        closes = time.max if end == "24:00" else time.fromisoformat(end)
    except ValueError:
        raise ValueError(f'opening hours {span!r}: write them as "HH:MM-HH:MM"') from None
    if closes <= opens:
        raise ValueError(f"opening hours {span!r}: the end must be after the start")
    return opens, closes


def _spans(calendar: Calendar, day: date) -> list[tuple[time, time]]:
    if day.isoformat() in calendar.holidays:
        return []
    return sorted(parse_span(span) for span in calendar.hours.get(DAY_NAMES[day.weekday()], []))


def _zone(calendar: Calendar, default_timezone: str) -> ZoneInfo:
    return ZoneInfo(calendar.timezone or default_timezone)


def is_open(calendar: Calendar | None, at: datetime, default_timezone: str = "UTC") -> bool:
    if calendar is None or calendar.name == ALWAYS_OPEN:
        return True
    local = at.astimezone(_zone(calendar, default_timezone))
    wall = local.time().replace(tzinfo=None)
    return any(opens <= wall < closes for opens, closes in _spans(calendar, local.date()))


def next_open(calendar: Calendar | None, at: datetime, default_timezone: str = "UTC") -> datetime:
    """`at` itself when open, else the next moment the calendar opens (aware, in UTC)."""
    if is_open(calendar, at, default_timezone):
        return at
    assert calendar is not None
    zone = _zone(calendar, default_timezone)
    local = at.astimezone(zone)
    for days_ahead in range(0, 400):
        day = local.date() + timedelta(days=days_ahead)
        for opens, _closes in _spans(calendar, day):
            candidate = datetime.combine(day, opens, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(ZoneInfo("UTC"))
    raise ValueError(f"calendar {calendar.name!r} never opens within a year; give it opening hours")
