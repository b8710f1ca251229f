"""Opening hours for routing: is a configured calendar open at a moment, and when does it
open next. `None` (or the calendar "24/7") is always open. The arithmetic is the SLA clocks'
business calendar; hours are wall-clock times in the calendar's time zone (else the `[sla]`
time zone) and holidays are closed all day."""

from __future__ import annotations

from datetime import datetime

from shared.business_calendar import ALWAYS_OPEN, CalendarError, calendar_from_config
from shared.config import Calendar

__all__ = ["ALWAYS_OPEN", "CalendarError", "is_open", "next_open"]


def is_open(calendar: Calendar | None, at: datetime, default_timezone: str = "UTC") -> bool:
    if calendar is None or calendar.name == ALWAYS_OPEN:
        return True
    return calendar_from_config(calendar, default_timezone).is_open(at)


def next_open(calendar: Calendar | None, at: datetime, default_timezone: str = "UTC") -> datetime:
    """`at` itself when open, else the next moment the calendar opens (aware, in UTC)."""
    if calendar is None or calendar.name == ALWAYS_OPEN:
        return at
    return calendar_from_config(calendar, default_timezone).next_open(at)
