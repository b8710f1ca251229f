"""SLA policies from `[sla]` in the configuration, resolved once at start-up: durations in
seconds of business time, warning points, their calendar, and which complaint they apply to.

Durations are written like "4h", "90m", "1h30m", "3d"; a day ("d") is one business day of the
policy's calendar (see `BusinessCalendar.day_length_seconds`). Warning points are a share of
the target ("80%") or business time left before the due time ("30m")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.business_calendar import ALWAYS_OPEN, BusinessCalendar, CalendarError, calendar_from_config
from shared.config import ConfigError, Settings, Sla, SlaPolicy

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


@dataclass(frozen=True)
class WarnPoint:
    label: str  # as configured: "80%" or "30m"
    kind: Literal["share", "before_due"]
    value: float  # a fraction of the target, or seconds before the due time

    def threshold(self, target_seconds: float) -> float:
        """Business seconds into the clock at which this point is reached."""
        if self.kind == "share":
            return target_seconds * self.value
        return max(0.0, target_seconds - self.value)


@dataclass(frozen=True)
class Policy:
    name: str
    version: int
    calendar: BusinessCalendar
    first_response_seconds: float
    resolution_seconds: float
    warn_points: tuple[WarnPoint, ...]
    pause_states: frozenset[str]
    priorities: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    def applies_to(self, priority: str, segment: str | None, channel: str | None) -> bool:
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.segments or segment in self.segments)
            and (not self.channels or channel in self.channels)
        )

    def target(self, kind: str) -> float:
        return self.first_response_seconds if kind == "first_response" else self.resolution_seconds


@dataclass(frozen=True)
class SlaRules:
    """Everything the clocks need from the configuration, checked and resolved."""

    policies: tuple[Policy, ...]
    calendars: dict[str, BusinessCalendar]

    def select(self, priority: str, segment: str | None, channel: str | None) -> Policy | None:
        """The first configured policy whose selectors match; None: no SLA applies."""
        for policy in self.policies:
            if policy.applies_to(priority, segment, channel):
                return policy
        return None


def parse_duration(text: str, day_seconds: float = 86400.0) -> float:
    compact = text.replace(" ", "").lower()
    parts = _PART.findall(compact)
    if not compact or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like \"4h\", \"90m\", \"1h30m\" or \"3d\"")
    return sum(float(n) * (day_seconds if u == "d" else _UNIT_SECONDS[u]) for n, u in parts)


def parse_warn_point(text: str, day_seconds: float = 86400.0) -> WarnPoint:
    stripped = text.strip()
    if stripped.endswith("%"):
        try:
            share = float(stripped[:-1]) / 100
        except ValueError:
            raise ValueError(f"{text!r} is not a warning point like \"80%\" or \"30m\"") from None
        if not 0 < share < 1:
            raise ValueError(f"{text!r}: a percentage warning point lies between 0% and 100%")
        return WarnPoint(stripped, "share", share)
    return WarnPoint(stripped, "before_due", parse_duration(stripped, day_seconds))


def rules_from_settings(settings: Settings) -> SlaRules:
    """Raises ConfigError naming the key when a calendar or policy is unusable."""
    return build_rules(settings.file.sla)


def build_rules(sla: Sla) -> SlaRules:
    calendars: dict[str, BusinessCalendar] = {ALWAYS_OPEN: BusinessCalendar.twenty_four_seven(sla.timezone)}
    try:
        for item in sla.calendars:
            calendars[item.name] = calendar_from_config(item, sla.timezone)
    except CalendarError as exc:
        raise ConfigError(f"sla.calendars: {exc}") from None
    policies = tuple(_policy(item, index, calendars) for index, item in enumerate(sla.policies))
    return SlaRules(policies=policies, calendars=calendars)


def _policy(item: SlaPolicy, index: int, calendars: dict[str, BusinessCalendar]) -> Policy:
    where = f"sla.policies[{index}] ({item.name})"
    calendar = calendars.get(item.calendar)
    if calendar is None:
        raise ConfigError(f"{where}.calendar: no calendar named {item.calendar!r}; define it under [[sla.calendars]] or use \"24/7\"")
    try:
        day = calendar.day_length_seconds()
        first_response = parse_duration(item.first_response, day)
        resolution = parse_duration(item.resolution, day)
        points = tuple(parse_warn_point(text, day) for text in item.warn_at)
    except (ValueError, CalendarError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if first_response <= 0 or resolution <= 0:
        raise ConfigError(f"{where}: first_response and resolution must be longer than zero")
    return Policy(
        name=item.name,
        version=item.version,
        calendar=calendar,
        first_response_seconds=first_response,
        resolution_seconds=resolution,
        warn_points=points,
        pause_states=frozenset(item.pause_states),
        priorities=frozenset(item.priorities),
        segments=frozenset(item.segments),
        channels=frozenset(item.channels),
    )
