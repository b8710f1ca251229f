"""Agent actions on complaints, for the JSON API and the web pages alike: load the complaint's
history, `decide`, publish what it decided, then wait (briefly) until the complaints processor
has applied it, so that the next page or board read shows it.

The ports come in as arguments: the engine (connections), the publisher, the clock. Nothing
here writes the complaint tables; the processor is their only writer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import Event
from events.ids import event_id_for
from services.projector.complaints import decide as d
from services.projector.complaints import store, views
from services.projector.complaints.policy import SlaRules
from services.projector.complaints.processor import PROJECTION
from shared.config import Settings
from shared.db.tracking import unapplied
from shared.kafka.publisher import Publisher

EVENT_TYPES: dict[type[d.Action], str] = {
    d.Respond: "complaint.responded", d.Resolve: "complaint.resolved", d.Reopen: "complaint.reopened",
    d.Pause: "complaint.paused", d.Resume: "complaint.resumed", d.ChangePriority: "complaint.priority_changed",
    d.Open: "complaint.opened",
}
WAIT_SECONDS = 3.0  # for the processor to apply an action before answering without it
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Recorded:
    events: list[Event]
    complaint: dict[str, Any]  # the complaint as it stands after the action
    applied: bool  # the processor applied it before the answer


def action_id(kind: type[d.Action], complaint_id: str, idempotency_key: str | None) -> uuid.UUID:
    """The event id of an action: the same for a retry with the same idempotency key."""
    if not idempotency_key:
        return uuid.uuid4()
    return event_id_for(EVENT_TYPES[kind], complaint_id, "agent", idempotency_key)


def opened_complaint_id(idempotency_key: str | None) -> str:
    return str(event_id_for("complaint", "agent", idempotency_key)) if idempotency_key else str(uuid.uuid4())


def decision_settings(settings: Settings) -> d.Settings:
    return d.Settings(agent_action_is_a_response="agent" in settings.file.sla.first_response_counts)


async def execute(
    command: d.Action, engine: AsyncEngine, publisher: Publisher, now: Callable[[], datetime], rules: SlaRules,
    settings: d.Settings = d.Settings(), wait_seconds: float = WAIT_SECONDS,
) -> Recorded:
    """Raises `decide.Refused` when the action does not apply, and the publisher's
    `KafkaUnavailable` when Kafka did not acknowledge (then nothing was recorded)."""
    history = await complaint_history(engine, command.complaint_id)
    events = d.decide(command, history, now(), settings)
    await publisher.publish(events)
    applied = await wait_until_applied(engine, [str(e.event_id) for e in events], wait_seconds)
    after = _merged(history, events)
    entry = views.board_entry(after, rules, now())
    entry.pop("_urgency", None)
    return Recorded(events, entry, applied)


async def complaint_history(engine: AsyncEngine, complaint_id: str) -> list[Event]:
    async with engine.connect() as conn:
        return await store.events_of(conn, complaint_id)


async def wait_until_applied(engine: AsyncEngine, event_ids: Sequence[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        async with engine.connect() as conn:  # a fresh snapshot each time (SQLite keeps one per transaction)
            if not await unapplied(conn, PROJECTION, event_ids):
                return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)


def _merged(history: list[Event], events: list[Event]) -> list[Event]:
    known = {e.event_id for e in history}
    return [*history, *(e for e in events if e.event_id not in known)]
