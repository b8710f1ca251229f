"""`[callbacks]` from the configuration, resolved once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.projector.complaints.policy import build_rules, parse_duration
from shared.business_calendar import BusinessCalendar, CalendarError
from shared.config import Callbacks, ConfigError, Settings


@dataclass(frozen=True)
class CallbackRules:
    grace: timedelta  # wall-clock time in which a caller who reaches us needs no callback
    open_on: frozenset[str]  # dispositions of unanswered inbound calls that are owed one
    close_on: str  # "answered" | "attempt"
    calendar: BusinessCalendar  # waiting time is business time of this calendar
    escalate_after: float | None = None  # business seconds; None: never overdue
    escalate_label: str | None = None  # as configured, e.g. "2h"


def rules_from_settings(settings: Settings) -> CallbackRules:
    return build_callback_rules(settings.file.callbacks, build_rules(settings.file.sla).calendars)


def build_callback_rules(config: Callbacks, calendars: dict[str, BusinessCalendar]) -> CallbackRules:
    """Raises ConfigError naming the key when a value is unusable."""
    calendar = calendars.get(config.calendar)
    if calendar is None:
        raise ConfigError(f"callbacks.calendar: no calendar named {config.calendar!r}; "
                          "define it under [[sla.calendars]] or use \"24/7\"")
    try:
        grace = timedelta(seconds=parse_duration(config.grace))  # wall-clock: a day is 24 hours
    except ValueError as exc:
        raise ConfigError(f"callbacks.grace: {exc}") from None
    escalate_after = None
    if config.escalate_after is not None:
        try:
            escalate_after = parse_duration(config.escalate_after, calendar.day_length_seconds())
        except (ValueError, CalendarError) as exc:
            raise ConfigError(f"callbacks.escalate_after: {exc}") from None
        if escalate_after <= 0:
            raise ConfigError("callbacks.escalate_after: must be longer than zero")
    return CallbackRules(grace=grace, open_on=frozenset(config.open_on), close_on=config.close_on,
                         calendar=calendar, escalate_after=escalate_after, escalate_label=config.escalate_after)
