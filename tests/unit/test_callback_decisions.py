"""The callback rules as pure decisions: grace time, one callback per number, closing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.projector.callbacks.decide import (
    CallbackNotOpen, OpenCallback, callback_id_for, close_by_agent, decide_call, fire, overdue,
)
from tests.callback_calls import CALLER, T0, answered, ended, missed, rules

OPEN = OpenCallback(callback_id=callback_id_for("cti", "c1"), phone=CALLER, missed_at=T0)


def test_a_missed_inbound_call_waits_out_the_grace_time_before_it_is_owed_a_callback():
    decision = decide_call(missed("c1"), None, None, rules("15m"))
    assert decision.events == ()
    assert decision.pending is not None
    assert (decision.pending.phone, decision.pending.due_at) == (CALLER, T0 + timedelta(minutes=15))


def test_a_pending_missed_call_whose_grace_time_passed_opens_a_callback():
    pending = decide_call(missed("c1"), None, None, rules()).pending
    event = fire(pending, None, T0 + timedelta(minutes=16))
    assert event.type == "callback.opened"
    assert event.payload.callback_id == callback_id_for("cti", "c1")
    assert (event.payload.phone, event.payload.missed_at, event.occurred_at) == (CALLER, T0, T0 + timedelta(minutes=15))


def test_opening_the_same_missed_call_twice_yields_the_same_event_id():
    pending = decide_call(missed("c1"), None, None, rules()).pending
    assert fire(pending, None, T0 + timedelta(minutes=16)).event_id == fire(pending, None, T0 + timedelta(hours=3)).event_id


@pytest.mark.parametrize("reach", [
    answered("c2", "inbound", T0 + timedelta(minutes=5)),
    ended("c2", "inbound", T0 + timedelta(minutes=5)),
    answered("c2", "outbound", T0 + timedelta(minutes=5)),
    ended("c2", "outbound", T0 + timedelta(minutes=5)),
], ids=["answered-in", "ended-answered-in", "answered-out", "ended-answered-out"])
def test_an_answered_call_with_the_caller_settles_missed_calls_before_it(reach):
    decision = decide_call(reach, None, None, rules())
    assert decision.reached == (CALLER, T0 + timedelta(minutes=5))
    assert decision.events == ()


def test_a_missed_call_older_than_the_last_conversation_is_not_owed_a_callback():
    late = decide_call(missed("c1", T0), None, T0 + timedelta(minutes=2), rules())
    assert late.pending is None and late.events == ()


def test_an_unanswered_call_out_does_not_count_as_reaching_the_caller():
    decision = decide_call(ended("c2", "outbound", T0 + timedelta(minutes=5), "missed"), None, None, rules())
    assert decision.reached is None


def test_a_further_missed_call_while_a_callback_is_open_is_counted_on_it():
    decision = decide_call(missed("c2", T0 + timedelta(hours=1), disposition="busy"), OPEN, None, rules())
    assert decision.pending is None
    [event] = decision.events
    assert event.type == "callback.attempted"
    assert event.payload.callback_id == OPEN.callback_id and event.payload.disposition == "busy"


def test_a_second_missed_call_in_the_grace_time_becomes_an_attempt_when_it_fires_after_the_first():
    pending = decide_call(missed("c2", T0 + timedelta(minutes=3)), None, None, rules()).pending
    event = fire(pending, OPEN, T0 + timedelta(minutes=20))
    assert event.type == "callback.attempted" and event.payload.callback_id == OPEN.callback_id


def test_an_answered_call_back_closes_the_callback_as_called_back():
    [event] = decide_call(answered("c3", "outbound", T0 + timedelta(hours=1)), OPEN, None, rules()).events
    assert event.type == "callback.closed"
    assert (event.payload.reason, event.payload.call_id, event.payload.closed_by.name) == ("called_back", "c3", "anna")


def test_the_answer_and_the_end_of_one_call_back_close_with_one_event_id():
    by_answer = decide_call(answered("c3", "outbound", T0 + timedelta(hours=1)), OPEN, None, rules()).events[0]
    by_end = decide_call(ended("c3", "outbound", T0 + timedelta(hours=1, minutes=4)), OPEN, None, rules()).events[0]
    assert by_answer.event_id == by_end.event_id


def test_the_caller_getting_through_closes_the_callback_as_reached():
    [event] = decide_call(answered("c3", "inbound", T0 + timedelta(hours=1)), OPEN, None, rules()).events
    assert event.payload.reason == "caller_reached_us"


def test_an_unanswered_call_back_keeps_the_callback_open_by_default():
    decision = decide_call(ended("c3", "outbound", T0 + timedelta(hours=1), "missed"), OPEN, None, rules())
    assert decision.events == ()


def test_with_close_on_attempt_an_unanswered_call_back_closes_it():
    decision = decide_call(ended("c3", "outbound", T0 + timedelta(hours=1), "voicemail"), OPEN, None,
                           rules(close_on="attempt"))
    [event] = decision.events
    assert (event.payload.reason, event.payload.disposition) == ("call_back_attempted", "voicemail")


def test_an_answered_call_from_before_the_missed_call_does_not_close_the_callback():
    decision = decide_call(answered("c0", "inbound", T0 - timedelta(minutes=1)), OPEN, None, rules())
    assert decision.events == ()


@pytest.mark.parametrize("event", [
    missed("c1", number=None),
    missed("c1", historic=True),
    missed("c1", disposition="failed"),
], ids=["withheld", "historic", "failed"])
def test_calls_that_cannot_or_need_not_be_called_back_are_ignored(event):
    decision = decide_call(event, None, None, rules())
    assert decision.pending is None and decision.events == () and decision.reached is None


def test_an_agent_closes_an_open_callback_with_an_outcome_note():
    [event] = close_by_agent(OPEN, "anna", "Reached on mobile, order re-sent", T0 + timedelta(hours=2))
    assert (event.channel, event.payload.reason, event.payload.closed_by.name) == ("agent", "agent", "anna")
    assert event.payload.note == "Reached on mobile, order re-sent"


def test_an_agent_cannot_close_a_callback_that_is_not_open():
    with pytest.raises(CallbackNotOpen):
        close_by_agent(None, "anna", "done", T0)


def test_a_callback_is_overdue_once_it_waited_the_limit_in_business_time():
    limit = rules(escalate_after=7200)
    assert overdue(OPEN, limit, T0 + timedelta(hours=1)) is None
    late = overdue(OPEN, limit, T0 + timedelta(hours=3))
    assert late is not None and late.occurred_at == T0 + timedelta(hours=2)
    assert late.event_id == overdue(OPEN, limit, T0 + timedelta(hours=9)).event_id


def test_without_a_limit_a_callback_is_never_overdue():
    assert overdue(OPEN, rules(), T0 + timedelta(days=30)) is None
