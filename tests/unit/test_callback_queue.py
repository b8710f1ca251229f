"""The callback queue as a fold: the same row whatever order its events arrive in."""

from __future__ import annotations

from datetime import timedelta
from itertools import permutations

from services.projector.callbacks.decide import callback_id_for, close_by_agent, decide_call, fire
from services.projector.callbacks.fold import apply
from services.projector.callbacks.store import as_open
from tests.callback_calls import CALLER, T0, answered, missed, rules


def fold(events):
    row = None
    for event in events:
        row = apply(row, event)
    return row


def history():
    opened = fire(decide_call(missed("c1"), None, None, rules()).pending, None, T0 + timedelta(minutes=16))
    open_callback = as_open(apply(None, opened))
    again = decide_call(missed("c2", T0 + timedelta(hours=1)), open_callback, None, rules()).events[0]
    by_call = decide_call(answered("c3", "outbound", T0 + timedelta(hours=2)), open_callback, None, rules()).events[0]
    by_agent = close_by_agent(open_callback, "anna", "spoke to them", T0 + timedelta(hours=3))[0]
    return opened, again, by_call, by_agent


def test_an_opened_callback_is_open_with_its_first_attempt():
    opened, *_ = history()
    row = apply(None, opened)
    assert (row.status, row.phone, row.attempts, row.missed_at) == ("open", CALLER, 1, T0)
    assert row.callback_id == callback_id_for("cti", "c1")


def test_attempts_count_every_missed_call_and_keep_the_latest():
    opened, again, *_ = history()
    row = fold([opened, again])
    assert (row.attempts, row.last_attempt_at) == (2, T0 + timedelta(hours=1))


def test_the_earliest_closing_stands_with_who_and_why():
    opened, again, by_call, by_agent = history()
    row = fold([opened, again, by_agent, by_call])
    assert (row.status, row.close_reason, row.closed_by, row.closing_call_id) == ("closed", "called_back", "anna", "c3")


def test_the_row_is_the_same_in_every_order_of_its_events():
    events = history()
    rows = {fold(order) for order in permutations(events)}
    assert len(rows) == 1
