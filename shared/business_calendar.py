"""Business time: when a calendar is open, how much open time lies between two instants, and
which instant is reached after a given amount of open time.

A calendar has a time zone, open slots per weekday (several per day, e.g. around a lunch
break; "24:00" ends a slot at midnight) and holidays. Slots are laid out in local wall time
and converted to UTC day by day, so DST switches shorten or lengthen the slots that span
them, and adjacent slots (23:00-24:00 then 00:00-01:00) join without a gap. The calendar
named "24/7" is always open. All instants in and out are timezone-aware."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.config import Calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24/7"
# How far ahead an addition may search before the calendar counts as never open.
MAX_SEARCH_DAYS = 3 * 366

Interval = tuple[datetime, datetime]


class CalendarError(ValueError):
    """A calendar definition is unusable; the message names the calendar and the value."""


@dataclass(frozen=True)
class Slot:
    start: time
    end: time | None  # None: midnight at the end of the day ("24:00")


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    timezone: ZoneInfo
    slots: Mapping[int, tuple[Slot, ...]] = field(default_factory=dict)  # weekday 0=Mon
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    @classmethod
    def twenty_four_seven(cls, timezone: str = "UTC") -> BusinessCalendar:
        return cls(name=ALWAYS_OPEN, timezone=_zone(timezone, ALWAYS_OPEN), always_open=True)

    # ---- open intervals ------------------------------------------------------------------

    def open_intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """The open intervals within [start, end), in UTC, adjacent ones merged."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        if self.always_open:
            return [(start, end)]
        found: list[Interval] = []
        for opens, closes in self._day_intervals(start.astimezone(self.timezone).date() - timedelta(days=1)):
            if opens >= end:
                break
            lo, hi = max(opens, start), min(closes, end)
            if lo < hi:
                found.append((lo, hi))
        return found

    def _day_intervals(self, first_day: date) -> Iterator[Interval]:
        """Open intervals from `first_day` on, in order, merged across midnight."""
        pending: Interval | None = None
        for offset in range(MAX_SEARCH_DAYS):
            day = first_day + timedelta(days=offset)
            for opens, closes in self._slots_on(day):
                if pending is not None and opens <= pending[1]:
                    pending = (pending[0], max(pending[1], closes))
                    continue
                if pending is not None:
                    yield pending
                pending = (opens, closes)
        if pending is not None:
            yield pending

    def _slots_on(self, day: date) -> list[Interval]:
        if day in self.holidays:
            return []
        intervals = []
        for slot in self.slots.get(day.weekday(), ()):
            opens = datetime.combine(day, slot.start, tzinfo=self.timezone)
            if slot.end is None:
                closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.timezone)
            else:
                closes = datetime.combine(day, slot.end, tzinfo=self.timezone)
            # non-existent local times (spring forward) resolve with the earlier offset,
            # which shortens the slot by the skipped hour as the wall clock does
            intervals.append((opens.astimezone(UTC), closes.astimezone(UTC)))
        return sorted(intervals)

    def is_open(self, instant: datetime) -> bool:
        return bool(self.open_intervals(instant, instant + timedelta(microseconds=1)))

    def next_open(self, instant: datetime) -> datetime:
        """`instant` itself when open, else the next moment the calendar opens (UTC)."""
        instant = _utc(instant)
        if self.always_open:
            return instant
        for opens, closes in self._day_intervals(instant.astimezone(self.timezone).date() - timedelta(days=1)):
            if closes > instant:
                return max(opens, instant)
        raise CalendarError(f"calendar {self.name!r} never opens within {MAX_SEARCH_DAYS} days; give it opening hours")

    # ---- arithmetic ----------------------------------------------------------------------

    def business_seconds(self, start: datetime, end: datetime) -> float:
        return sum((hi - lo).total_seconds() for lo, hi in self.open_intervals(start, end))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of open time have passed since `start`.

        With zero seconds, that is `start` itself (even when closed): the target was already
        used up when the clock stopped running."""
        start = _utc(start)
        if seconds <= 0:
            return start
        if self.always_open:
            return start + timedelta(seconds=seconds)
        left = timedelta(seconds=seconds)
        for opens, closes in self._day_intervals(start.astimezone(self.timezone).date() - timedelta(days=1)):
            if closes <= start:
                continue
            lo = max(opens, start)
            if closes - lo >= left:
                return lo + left
            left -= closes - lo
        raise CalendarError(f"calendar {self.name!r} has no open hours within {MAX_SEARCH_DAYS} days")

    def day_length_seconds(self) -> float:
        """The nominal length of one business day: open hours per week divided by the days
        that have any, e.g. 8h for Mon-Fri 08:00-12:00 + 13:00-17:00; 24h when always open.
        Durations written in days ("3d") count in these days."""
        if self.always_open:
            return 86400.0
        day = date(2001, 1, 1)  # a Monday; only wall-clock lengths matter here
        per_day = []
        for weekday in range(7):
            total = 0.0
            for slot in self.slots.get(weekday, ()):
                end = datetime.combine(day + timedelta(days=1), time(0)) if slot.end is None else datetime.combine(day, slot.end)
                total += (end - datetime.combine(day, slot.start)).total_seconds()
            if total:
                per_day.append(total)
        if not per_day:
            raise CalendarError(f"calendar {self.name!r} has no open hours on any weekday")
        return sum(per_day) / len(per_day)


# ---- building calendars from configuration ---------------------------------------------------

_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_slot(text: str, where: str) -> Slot:
    match = _SLOT.match(text)
    if not match:
        raise CalendarError(f"{where}: {text!r} is not a slot like \"08:00-12:00\"")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise CalendarError(f"{where}: {text!r} is not a valid time range")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise CalendarError(f"{where}: {text!r} ends before it starts (use \"24:00\" for midnight)")
    return Slot(start, end)


def build_calendar(
    name: str,
    timezone: str,
    hours: Mapping[str, Iterable[str]],
    holidays: Iterable[str] = (),
    holidays_ical: Path | None = None,
) -> BusinessCalendar:
    slots: dict[int, tuple[Slot, ...]] = {}
    for day_name, texts in hours.items():
        if day_name not in WEEKDAYS:
            raise CalendarError(f"calendar {name!r}: unknown weekday {day_name!r} (use {', '.join(WEEKDAYS)})")
        parsed = sorted((parse_slot(text, f"calendar {name!r} {day_name}") for text in texts), key=lambda s: s.start)
        slots[WEEKDAYS.index(day_name)] = tuple(parsed)
    days: set[date] = set()
    for text in holidays:
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise CalendarError(f"calendar {name!r}: holiday {text!r} is not an ISO date like 2026-12-24") from None
    if holidays_ical is not None:
        try:
            days |= ical_holidays(Path(holidays_ical).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CalendarError(f"calendar {name!r}: cannot read holidays_ical {holidays_ical}: {exc.strerror}") from None
    return BusinessCalendar(name=name, timezone=_zone(timezone, name), slots=slots, holidays=frozenset(days))


def calendar_from_config(config: Calendar, default_timezone: str) -> BusinessCalendar:
    """The calendar of a `[[sla.calendars]]` table; its own time zone, else the default."""
    if config.name == ALWAYS_OPEN:
        return BusinessCalendar.twenty_four_seven(config.timezone or default_timezone)
    return build_calendar(
        config.name, config.timezone or default_timezone, config.hours, config.holidays, config.holidays_ical
    )


def ical_holidays(text: str) -> set[date]:
    """The days covered by the VEVENTs of an iCalendar file (RFC 5545): DTSTART up to an
    exclusive DTEND (or one day). Folded lines are unfolded; times within a DATE-TIME start
    count as that whole local day."""
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    days: set[date] = set()
    in_event, start, end = False, None, None
    for line in lines:
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].strip().upper()
        if key == "BEGIN" and value.strip().upper() == "VEVENT":
            in_event, start, end = True, None, None
        elif key == "END" and value.strip().upper() == "VEVENT":
            if start is not None:
                last = end if end is not None and end > start else start + timedelta(days=1)
                days.update(start + timedelta(days=n) for n in range((last - start).days))
            in_event = False
        elif in_event and key in ("DTSTART", "DTEND"):
            parsed = _ical_date(value.strip())
            if key == "DTSTART":
                start = parsed
            else:
                end = parsed
    return days


def _ical_date(value: str) -> date:
    digits = value[:8]
    if len(digits) != 8 or not digits.isdigit():
        raise CalendarError(f"holidays_ical: {value!r} is not an iCalendar date")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def _zone(name: str, calendar: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"calendar {calendar!r}: unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("business time needs timezone-aware datetimes")
    return instant.astimezone(UTC)
