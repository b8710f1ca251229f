"""The callback queue as a fold: `apply(row, event) -> row`, pure.

The fold gives the same row whatever order a callback's events arrive in (a rebuild reads the
log in its order, the live processor applies what it decides at once): every opening or
attempt counts once (the writer skips event ids already applied), the last attempt is the
latest, and of two closings the earlier one stands (ties: the smaller event id)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from events.callback import CallbackAttempted, CallbackClosed, CallbackOpened, CallbackOverdue
from events.envelope import Event

CALLBACK_TYPES = ("callback.opened", "callback.attempted", "callback.closed", "callback.overdue")


@dataclass(frozen=True)
class CallbackRow:
    callback_id: str
    phone: str
    customer_id: str | None = None
    provider: str | None = None
    call_id: str | None = None  # the missed call that opened it
    queue: str | None = None
    disposition: str | None = None
    missed_at: datetime | None = None  # the wait starts here
    opened_at: datetime | None = None
    attempts: int = 0  # unanswered calls from the number: the first and every later one
    last_attempt_at: datetime | None = None
    overdue_at: datetime | None = None
    closed_at: datetime | None = None
    close_event_id: str | None = None
    close_reason: str | None = None
    closed_by: str | None = None
    closed_by_kind: str | None = None
    close_note: str | None = None
    closing_call_id: str | None = None
    correlation_id: str | None = None

    @property
    def status(self) -> str:
        return "closed" if self.closed_at is not None else "open"


def apply(row: CallbackRow | None, event: Event) -> CallbackRow:
    p = event.payload
    row = row or CallbackRow(callback_id=p.callback_id, phone=p.phone)
    row = replace(row, customer_id=row.customer_id or event.customer_id,
                  correlation_id=row.correlation_id or event.correlation_id)
    match event:
        case CallbackOpened(payload=p):
            row = replace(row, provider=p.provider, call_id=p.call_id, queue=p.queue, disposition=p.disposition,
                          missed_at=p.missed_at, opened_at=event.occurred_at, correlation_id=event.correlation_id)
            return _attempt(row, p.missed_at)
        case CallbackAttempted(payload=p):
            return _attempt(row, p.missed_at)
        case CallbackOverdue():
            earlier = row.overdue_at is None or event.occurred_at < row.overdue_at
            return replace(row, overdue_at=event.occurred_at) if earlier else row
        case CallbackClosed(payload=p):
            if row.closed_at is not None and (row.closed_at, row.close_event_id or "") <= (event.occurred_at, str(event.event_id)):
                return row
            return replace(row, closed_at=event.occurred_at, close_event_id=str(event.event_id), close_reason=p.reason,
                           closed_by=p.closed_by.name, closed_by_kind=p.closed_by.kind, close_note=p.note,
                           closing_call_id=p.call_id)
    raise TypeError(f"not a callback event: {event.type}")


def _attempt(row: CallbackRow, at: datetime) -> CallbackRow:
    latest = at if row.last_attempt_at is None else max(row.last_attempt_at, at)
    return replace(row, attempts=row.attempts + 1, last_attempt_at=latest)
