"""Retention by period: which class an event type belongs to, and when a class's data expires.

`[privacy.retention]` maps event-type globs to durations (`"email.*" = "6y"`). The first
pattern (in config order) that matches an event's type is its retention class; an event is
sealed under the key of its subject and period `<year>|<class>`, so that expiry shreds one
class of one year and nothing else. Events no pattern matches keep the year-only period and are
never shredded by retention.

Expiry follows German practice (HGB §257 (5), AO §147 (4)): a retention period starts at the end
of the calendar year the data arose in. Data of year Y kept for D expires at the end of year Y
plus D: `6y` of 2020 at 2027-01-01 00:00 UTC; `18m` of 2020 at 2022-07-01; `90d` of 2020 at
2021-04-01. Pure: `now` is always an argument."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

PERIOD_SEPARATOR = "|"
_DURATION = re.compile(r"^([1-9][0-9]{0,3})([ymd])$")
_PATTERN = re.compile(r"^[a-z0-9_.*?\[\]-]{1,60}$")


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # y | m | d

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def after(self, start: datetime) -> datetime:
        if self.unit == "d":
            return start + timedelta(days=self.amount)
        months = start.month - 1 + self.amount * (12 if self.unit == "y" else 1)
        return start.replace(year=start.year + months // 12, month=months % 12 + 1)


def parse_duration(text: str) -> Duration:
    """`6y`, `18m`, `90d`; ValueError naming the expected form otherwise."""
    found = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"{text!r} is not a duration: write a whole number of years, months or days, e.g. 6y, 18m, 90d")
    return Duration(int(found.group(1)), found.group(2))


def check_pattern(pattern: str) -> str:
    if not _PATTERN.match(pattern):
        raise ValueError(f"{pattern!r} is not an event type pattern: lower-case type names with * or ?, e.g. email.*")
    return pattern


def end_of_year(year: int) -> datetime:
    return datetime(year + 1, 1, 1, tzinfo=UTC)


def expires_at(year: int, duration: Duration) -> datetime:
    """When data of `year` kept for `duration` expires: the end of that year plus the duration."""
    return duration.after(end_of_year(year))


@dataclass(frozen=True)
class Period:
    year: int
    retention_class: str | None  # None: year-only, not shredded by retention

    def __str__(self) -> str:
        if self.retention_class is None:
            return str(self.year)
        return f"{self.year}{PERIOD_SEPARATOR}{self.retention_class}"

    @classmethod
    def parse(cls, text: str) -> Period:
        year, _, retention_class = text.partition(PERIOD_SEPARATOR)
        return cls(int(year), retention_class or None)


@dataclass(frozen=True)
class Expiry:
    """One class of one year whose time is up (or will be at `expires_at`)."""

    retention_class: str
    year: int
    expires_at: datetime
    keys: int = 0

    @property
    def period(self) -> str:
        return str(Period(self.year, self.retention_class))


@dataclass(frozen=True)
class RetentionRules:
    """The parsed `[privacy.retention]`, in config order (the first match wins)."""

    rules: tuple[tuple[str, Duration], ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> RetentionRules:
        return cls(tuple((check_pattern(pattern), parse_duration(text)) for pattern, text in config.items()))

    def class_of(self, event_type: str) -> str | None:
        return _class_of(self, event_type)

    def duration_of(self, retention_class: str) -> Duration | None:
        return dict(self.rules).get(retention_class)

    def period_of(self, event_type: str, year: int) -> str:
        return str(Period(year, self.class_of(event_type)))

    def types_of(self, retention_class: str, known_types: Iterable[str]) -> tuple[str, ...]:
        """The event types whose class is `retention_class` (an earlier pattern may take some)."""
        return tuple(sorted(t for t in known_types if self.class_of(t) == retention_class))

    def expiry_of(self, period: str) -> datetime | None:
        """When the keys of `period` expire; None for year-only periods and classes no longer configured
        (kept: a removed rule never shreds by accident)."""
        parsed = Period.parse(period)
        duration = self.duration_of(parsed.retention_class) if parsed.retention_class else None
        return None if duration is None else expires_at(parsed.year, duration)

    def held(self, period: str, now: datetime) -> datetime | None:
        """The end of the legal hold on `period` when it has not ended by `now`, else None."""
        until = self.expiry_of(period)
        return until if until is not None and until > now else None


@functools.lru_cache(maxsize=1024)  # asked for every event sealed: a handful of types, a few rules
def _class_of(rules: RetentionRules, event_type: str) -> str | None:
    for pattern, _ in rules.rules:
        if fnmatchcase(event_type, pattern):
            return pattern
    return None


def expiries(periods: Mapping[str, int], rules: RetentionRules) -> list[Expiry]:
    """Per class and year with keys (`periods`: period -> how many keys), when it expires; soonest first."""
    found = []
    for period, keys in periods.items():
        until = rules.expiry_of(period)
        if until is not None:
            parsed = Period.parse(period)
            found.append(Expiry(parsed.retention_class or "", parsed.year, until, keys))
    return sorted(found, key=lambda e: (e.expires_at, e.retention_class, e.year))


def expired(periods: Mapping[str, int], rules: RetentionRules, now: datetime) -> list[Expiry]:
    """The classes and years whose keys are due for shredding at `now`."""
    return [expiry for expiry in expiries(periods, rules) if expiry.expires_at <= now]
