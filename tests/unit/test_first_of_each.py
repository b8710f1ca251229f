"""Which events of a batch a writer applies, given the ids it claimed: each claimed id once, in
log order, so an event the log holds twice is applied once even within one batch."""

from __future__ import annotations

from dataclasses import dataclass

from shared.db.tracking import first_of_each


@dataclass(frozen=True)
class Ev:
    event_id: str
    n: int


def test_an_event_twice_in_one_batch_is_applied_once_at_its_first_place():
    batch = [Ev("a", 1), Ev("b", 2), Ev("a", 3), Ev("c", 4)]
    assert first_of_each(batch, {"a", "c"}) == [Ev("a", 1), Ev("c", 4)]


def test_events_applied_before_are_left_out_and_the_claimed_set_is_not_consumed():
    claimed = {"b"}
    assert first_of_each([Ev("a", 1), Ev("b", 2)], claimed) == [Ev("b", 2)]
    assert claimed == {"b"}
    assert first_of_each([], claimed) == []
