"""Notifications and complaint facts as JSON text for the database, and back."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import orjson

from services.notifier.routing import Notification
from services.notifier.state import ComplaintFacts
from services.notifier.triggers import Trigger

_TIMES = ("occurred_at", "due_at", "send_at", "opened_at")


def _revive(data: dict[str, Any]) -> dict[str, Any]:
    for name in _TIMES:
        if isinstance(data.get(name), str):
            data[name] = datetime.fromisoformat(data[name])
    if "keys" in data:
        data["keys"] = tuple(data["keys"])
    return data


def complaint_to_json(facts: ComplaintFacts) -> str:
    return orjson.dumps(dataclasses.asdict(facts)).decode()


def complaint_from_json(text: str) -> ComplaintFacts:
    return ComplaintFacts(**_revive(orjson.loads(text)))


def notification_to_json(notification: Notification) -> str:
    return orjson.dumps(dataclasses.asdict(notification)).decode()


def notification_from_json(text: str) -> Notification:
    data = _revive(orjson.loads(text))
    trigger = _revive(data.pop("trigger"))
    if trigger.get("complaint") is not None:
        trigger["complaint"] = ComplaintFacts(**_revive(trigger["complaint"]))
    return Notification(trigger=Trigger(**trigger), **data)
