"""The callback decisions, pure: what a call means for the callbacks of its number, what a
missed call that waited out the grace time becomes, when an open callback is overdue, and
whether an agent may close one. Nothing here does I/O; the processor loads the state
(`OpenCallback`, the last time the caller reached us) and records what comes back.

The rules, as call centres run them:
- an inbound call that ended unanswered (`rules.open_on`: missed, busy, rejected, voicemail)
  from a known number waits out the grace time (`Pending`); if the caller reaches us in the
  meantime (an answered call either way), nothing is owed; otherwise it opens a callback;
- further unanswered calls while a callback is open are counted on it (`callback.attempted`),
  never a second callback;
- an answered call out to the number closes it (`called_back`); with `close_on = "attempt"`
  any call out does, answered or not (`call_back_attempted`); an answered call in from the
  number closes it too (`caller_reached_us`); an agent closes it with an outcome note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.call import CallAnswered, CallEnded
from events.callback import (
    CallbackAttempted, CallbackAttemptedPayload, CallbackClosed, CallbackClosedPayload, CallbackOpened,
    CallbackOpenedPayload, CallbackOverdue, CallbackOverduePayload, CloseReason,
)
from events.envelope import ActorRef, ContactIdentifiers, Event
from events.ids import event_id_for
from services.projector.callbacks.rules import CallbackRules

SOURCE = "callbacks"
SYSTEM = ActorRef(kind="system", name="callbacks")


@dataclass(frozen=True)
class Pending:
    """A missed call waiting out the grace time."""

    provider: str
    call_id: str
    phone: str
    missed_at: datetime
    due_at: datetime
    disposition: str
    queue: str | None = None
    customer_id: str | None = None
    cause_event_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class OpenCallback:
    callback_id: str
    phone: str
    missed_at: datetime | None  # None while only later events of it are known
    customer_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Decision:
    events: tuple[Event, ...] = ()
    pending: Pending | None = None  # to wait out the grace time
    reached: tuple[str, datetime] | None = None  # (phone, when): the caller and we spoke


class CallbackNotOpen(Exception):
    """An agent tried to close a callback that is closed already (or unknown)."""


def callback_id_for(provider: str, call_id: str) -> str:
    """A callback is named after the missed call that opened it."""
    return str(event_id_for("callback", provider, call_id))


def customer_number(event: CallAnswered | CallEnded) -> str | None:
    p = event.payload
    return p.from_number if p.direction == "inbound" else p.to_number


def decide_call(event: Event, open_callback: OpenCallback | None, reached_at: datetime | None,
                rules: CallbackRules) -> Decision:
    """What one call event means. `reached_at`: the last time the caller and we spoke."""
    if event.historic or not isinstance(event, CallAnswered | CallEnded):
        return Decision()
    phone = customer_number(event)
    if phone is None:
        return Decision()  # a withheld number cannot be called back
    answered = isinstance(event, CallAnswered) or event.payload.disposition == "answered"
    if answered:
        return _reached(event, phone, open_callback)
    assert isinstance(event, CallEnded)
    if event.payload.direction == "outbound":
        if rules.close_on == "attempt" and open_callback is not None:
            return Decision(events=(_closed_by_call(event, open_callback, "call_back_attempted"),))
        return Decision()
    if event.payload.disposition not in rules.open_on:
        return Decision()
    if reached_at is not None and reached_at >= event.occurred_at:
        return Decision()  # we spoke after this call already (it reached us late)
    if open_callback is not None:
        return Decision(events=(_attempted(open_callback, _pending(event, phone, rules)),))
    return Decision(pending=_pending(event, phone, rules))


def _reached(event: CallAnswered | CallEnded, phone: str, open_callback: OpenCallback | None) -> Decision:
    events: tuple[Event, ...] = ()
    started_before = open_callback is not None and open_callback.missed_at is not None \
        and event.occurred_at < open_callback.missed_at
    if open_callback is not None and not started_before:
        reason: CloseReason = "called_back" if event.payload.direction == "outbound" else "caller_reached_us"
        events = (_closed_by_call(event, open_callback, reason),)
    return Decision(events=events, reached=(phone, event.occurred_at))


def _pending(event: CallEnded, phone: str, rules: CallbackRules) -> Pending:
    p = event.payload
    return Pending(provider=p.provider, call_id=p.call_id, phone=phone, missed_at=event.occurred_at,
                   due_at=event.occurred_at + rules.grace, disposition=p.disposition, queue=p.queue,
                   customer_id=event.customer_id, cause_event_id=str(event.event_id),
                   correlation_id=event.correlation_id)


def fire(pending: Pending, open_callback: OpenCallback | None, now: datetime) -> Event:
    """A missed call whose grace time passed: a new callback, or one more attempt on the open one."""
    if open_callback is not None:
        return _attempted(open_callback, pending, now)
    callback_id = callback_id_for(pending.provider, pending.call_id)
    return CallbackOpened(
        event_id=event_id_for("callback.opened", pending.provider, pending.call_id),
        occurred_at=pending.due_at, recorded_at=now, source=SOURCE,
        contact=ContactIdentifiers(phone=pending.phone), customer_id=pending.customer_id,
        correlation_id=pending.correlation_id, causation_id=pending.cause_event_id,
        payload=CallbackOpenedPayload(callback_id=callback_id, phone=pending.phone, provider=pending.provider,
                                      call_id=pending.call_id, missed_at=pending.missed_at,
                                      disposition=pending.disposition, queue=pending.queue),
    )


def _attempted(open_callback: OpenCallback, pending: Pending, now: datetime | None = None) -> CallbackAttempted:
    return CallbackAttempted(
        event_id=event_id_for("callback.attempted", pending.provider, pending.call_id),
        occurred_at=pending.missed_at, recorded_at=now or pending.missed_at, source=SOURCE,
        contact=ContactIdentifiers(phone=pending.phone), customer_id=pending.customer_id or open_callback.customer_id,
        correlation_id=open_callback.correlation_id, causation_id=pending.cause_event_id,
        payload=CallbackAttemptedPayload(callback_id=open_callback.callback_id, phone=pending.phone,
                                         provider=pending.provider, call_id=pending.call_id,
                                         missed_at=pending.missed_at, disposition=pending.disposition),
    )


def _closed_by_call(event: CallAnswered | CallEnded, open_callback: OpenCallback, reason: CloseReason) -> CallbackClosed:
    p = event.payload
    who = next(iter(p.users), None) or getattr(p, "answered_by", None)
    return CallbackClosed(
        # the answer and the end of one call close it with one event
        event_id=event_id_for("callback.closed", open_callback.callback_id, p.provider, p.call_id),
        occurred_at=event.occurred_at, recorded_at=event.recorded_at, source=SOURCE,
        contact=ContactIdentifiers(phone=open_callback.phone), customer_id=open_callback.customer_id,
        correlation_id=open_callback.correlation_id, causation_id=str(event.event_id),
        payload=CallbackClosedPayload(
            callback_id=open_callback.callback_id, phone=open_callback.phone, reason=reason,
            closed_by=ActorRef(kind="agent", name=who) if who else SYSTEM, provider=p.provider, call_id=p.call_id,
            disposition=p.disposition if isinstance(event, CallEnded) else "answered",
        ),
    )


def close_by_agent(open_callback: OpenCallback | None, user: str, note: str, now: datetime) -> list[Event]:
    """An agent closes a callback with an outcome note. Raises CallbackNotOpen if it is not open."""
    if open_callback is None:
        raise CallbackNotOpen()
    return [CallbackClosed(
        event_id=event_id_for("callback.closed", open_callback.callback_id, "agent"),
        occurred_at=now, recorded_at=now, channel="agent", source="web",
        contact=ContactIdentifiers(phone=open_callback.phone), customer_id=open_callback.customer_id,
        correlation_id=open_callback.correlation_id,
        payload=CallbackClosedPayload(callback_id=open_callback.callback_id, phone=open_callback.phone,
                                      reason="agent", closed_by=ActorRef(kind="agent", name=user), note=note),
    )]


def overdue_at(open_callback: OpenCallback, rules: CallbackRules) -> datetime | None:
    """When the callback has waited `escalate_after` of business time; None: never."""
    if rules.escalate_after is None or open_callback.missed_at is None:
        return None
    return rules.calendar.add(open_callback.missed_at, rules.escalate_after)


def overdue(open_callback: OpenCallback, rules: CallbackRules, now: datetime) -> CallbackOverdue | None:
    """`callback.overdue` once the callback waited too long, else None. Its id names the
    callback alone: it is reported once, however often this is asked."""
    due = overdue_at(open_callback, rules)
    if due is None or now < due or open_callback.missed_at is None:
        return None
    return CallbackOverdue(
        event_id=event_id_for("callback.overdue", open_callback.callback_id),
        occurred_at=due, recorded_at=now, source=SOURCE,
        contact=ContactIdentifiers(phone=open_callback.phone), customer_id=open_callback.customer_id,
        correlation_id=open_callback.correlation_id,
        payload=CallbackOverduePayload(
            callback_id=open_callback.callback_id, phone=open_callback.phone, missed_at=open_callback.missed_at,
            waited_business_seconds=rules.escalate_after or 0.0,  # at `due`: the limit itself
            calendar=rules.calendar.name, limit=rules.escalate_label or "",
        ),
    )
