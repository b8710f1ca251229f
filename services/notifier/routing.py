"""Routing rules: which people hear about a trigger, at which escalation level, and when.

`route_escalation` is pure. A rule matches when every key of its `match` table equals the
trigger's value (a list means "any of these"); match keys are `type`, `kind` (SLA clock:
first_response | resolution), `priority`, `segment`, `channel` and `team`. Levels are how a
deployment escalates, e.g. warning → team (level 1), breach → lead (level 2), breach plus
`delay = "2h"` → manager (level 3).

Quiet duplicates: the notification id is derived from what the notification is about (the
complaint, the kind of trigger and the SLA clock), its level and its target, so the same
breach seen twice, or named by two rules, yields one notification per target and level.

Outside the rule's calendar hours a notification is sent anyway (`outside_hours = "send"`),
goes to the on-call addresses instead (`"on_call"`), or is held until the calendar opens
(`"hold"`). Mail goes to the customer only when a rule lists the address `customer`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from events.ids import event_id_for
from services.notifier.business_hours import ALWAYS_OPEN, is_open, next_open
from services.notifier.durations import parse_duration
from services.notifier.triggers import TRIGGER_TYPES, Trigger
from shared.config import Calendar, ConfigError, RoutingRule

MATCH_KEYS = ("type", "kind", "priority", "segment", "channel", "team")
CUSTOMER_TARGET = "customer"

TargetKind = Literal["email", "webhook"]


@dataclass(frozen=True)
class Notification:
    notification_id: str
    trigger: Trigger
    rule: str
    level: int
    target_kind: TargetKind
    target: str
    language: str
    send_at: datetime
    held: bool = False  # waits for the calendar to open
    on_call: bool = False  # re-routed to the on-call target outside hours
    timezone: str = "UTC"  # for the times shown in the message


def rule_name(rule: RoutingRule, index: int) -> str:
    return rule.name or f"rule-{index + 1}"


def notification_id_for(dedup_key: str, level: int, target_kind: str, target: str) -> str:
    return str(event_id_for("notification", dedup_key, level, target_kind, target.lower()))


def matches(rule: RoutingRule, trigger: Trigger) -> bool:
    facts = trigger.facts()
    for key, expected in rule.match.items():
        allowed = expected if isinstance(expected, list) else [expected]
        if facts.get(key) not in [str(value) for value in allowed]:
            return False
    return True


def route_escalation(
    trigger: Trigger,
    rules: Sequence[RoutingRule],
    calendars: Mapping[str, Calendar],
    default_timezone: str = "UTC",
) -> list[Notification]:
    """The notifications a trigger causes, at most one per (what, level, target)."""
    found: dict[str, Notification] = {}
    for index, rule in enumerate(rules):
        if matches(rule, trigger):
            for notification in _notifications(trigger, rule, index, calendars, default_timezone):
                found.setdefault(notification.notification_id, notification)
    return list(found.values())


def _notifications(
    trigger: Trigger, rule: RoutingRule, index: int, calendars: Mapping[str, Calendar], default_timezone: str
) -> list[Notification]:
    send_at = trigger.occurred_at + (parse_duration(rule.delay) if rule.delay else parse_duration("0s"))
    calendar = calendars.get(rule.calendar) if rule.calendar and rule.calendar != ALWAYS_OPEN else None
    timezone = (calendar.timezone if calendar else None) or default_timezone
    targets: list[tuple[TargetKind, str]] = [("email", address) for address in rule.email]
    targets += [("webhook", url) for url in rule.webhook]
    held = on_call = False
    if not is_open(calendar, send_at, default_timezone):
        if rule.outside_hours == "hold":
            send_at, held = next_open(calendar, send_at, default_timezone), True
        elif rule.outside_hours == "on_call":
            targets, on_call = [("email", address) for address in rule.on_call_email], True
    made = []
    for kind, target in targets:
        if target == CUSTOMER_TARGET:
            if not trigger.customer_email:
                continue
            target = trigger.customer_email
        made.append(
            Notification(
                notification_id=notification_id_for(trigger.dedup_key, rule.level, kind, target),
                trigger=trigger,
                rule=rule_name(rule, index),
                level=rule.level,
                target_kind=kind,
                target=target,
                language=rule.language,
                send_at=send_at,
                held=held,
                on_call=on_call,
                timezone=timezone,
            )
        )
    return made


def check_rules(rules: Sequence[RoutingRule], calendars: Mapping[str, Calendar]) -> None:
    """Raises ConfigError naming every rule that cannot work (checked at start-up)."""
    problems = []
    for index, rule in enumerate(rules):
        where = f"routing.rules[{index}] ({rule_name(rule, index)})"
        for key in rule.match:
            if key not in MATCH_KEYS:
                problems.append(f"{where}: match.{key}: unknown key; use one of {', '.join(MATCH_KEYS)}")
        types = rule.match.get("type")
        for value in types if isinstance(types, list) else [types] if types else []:
            if value not in TRIGGER_TYPES:
                problems.append(f"{where}: match.type {value!r}: unknown; use one of {', '.join(TRIGGER_TYPES)}")
        if not rule.email and not rule.webhook:
            problems.append(f"{where}: no targets; give email and/or webhook")
        if rule.calendar and rule.calendar != ALWAYS_OPEN and rule.calendar not in calendars:
            problems.append(f"{where}: calendar {rule.calendar!r} is not among [[sla.calendars]]")
        if rule.outside_hours != "send" and not rule.calendar:
            problems.append(f"{where}: outside_hours = {rule.outside_hours!r} needs a calendar")
        if rule.outside_hours == "on_call" and not rule.on_call_email:
            problems.append(f'{where}: outside_hours = "on_call" needs on_call_email')
        if rule.delay:
            try:
                parse_duration(rule.delay)
            except ValueError as exc:
                problems.append(f"{where}: delay: {exc}")
        for url in rule.webhook:
            if not url.startswith(("http://", "https://")):
                problems.append(f"{where}: webhook {url!r} is not an http(s) URL")
    if problems:
        raise ConfigError("\n".join(problems))
