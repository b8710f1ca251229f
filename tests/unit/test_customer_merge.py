"""Merging two records of one person and undoing it, as a pure fold: one timeline while
merged, both records exactly as without the merge once unmerged, whatever the arrival order."""

from __future__ import annotations

import itertools

import pytest

from services.projector.timeline.identity import root
from services.projector.timeline.projection import apply
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.view import MemoryView
from tests import timeline_factories as f

ERIKA, ERIKA_TOO, MAX = customer_id_for("K-1"), customer_id_for("K-2"), customer_id_for("K-3")
PHONE, OLD_PHONE, SHARED = "+4915112345678", "+4930111000", "+4930222000"


def project(events) -> MemoryView:
    view = MemoryView()
    for event in events:
        view.record(apply(event, view))
    return view


def records():
    return [
        f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,)),
        f.registered("K-2", "Erika Muster", emails=("e.muster@mail.example",)),
        f.registered("K-3", "Max Beispiel", emails=("max@example.com",)),
        f.linked("phone", OLD_PHONE, "K-2", minute=1),
        f.mail(1, "erika@example.org", 2),
        f.mail(2, "e.muster@mail.example", 3),
        f.call("started", "c1", OLD_PHONE, 4),
        f.mail(3, "max@example.com", 5),
    ]


def subjects_by_owner(view: MemoryView) -> dict[str, list[str]]:
    return {owner: sorted(e.entry_key for e in view.timeline(owner)) for owner in {e.owner_id for e in view.entries.values()}}




def test_merging_shows_the_other_records_history_on_one_timeline():
    view = project([*records(), f.merged("K-2", "K-1", minute=10)])
    keys = {e.entry_key for e in view.timeline(ERIKA)}
    assert len(keys) == 3  # a mail to each address and the call from K-2's linked number
    assert view.timeline(ERIKA_TOO) == []
    assert view.customer(ERIKA_TOO).merged_into == ERIKA and view.customer(ERIKA_TOO).merged_by == "anna"
    assert [e.entry_key for e in view.timeline(MAX)] == ["event:" + str(f.mail(3, "max@example.com", 5).event_id)]


def test_an_interaction_arriving_for_the_merged_records_address_lands_on_the_merged_timeline():
    view = project([*records(), f.merged("K-2", "K-1", minute=10), f.mail(4, "e.muster@mail.example", 11)])
    assert f"event:{f.mail(4, 'e.muster@mail.example', 11).event_id}" in {e.entry_key for e in view.timeline(ERIKA)}


def test_unmerge_restores_both_records_exactly_including_what_arrived_while_merged():
    later = [f.mail(4, "e.muster@mail.example", 11), f.call("started", "c2", OLD_PHONE, 12), f.mail(5, "erika@example.org", 13)]
    never_merged = project([*records(), *later])
    merged_and_back = project([*records(), f.merged("K-2", "K-1", minute=10), *later,
                               f.merged("K-2", "K-1", minute=20, unmerge=True)])
    assert merged_and_back.entries == never_merged.entries
    assert merged_and_back.identities == never_merged.identities
    assert merged_and_back.customers == never_merged.customers


def test_an_identifier_both_records_claim_is_no_longer_ambiguous_while_they_are_merged():
    events = [f.registered("K-1", "Erika", phones=(SHARED,)), f.registered("K-2", "Erika", phones=(SHARED,)),
              f.call("started", "s1", SHARED, 1)]
    (entry,) = project(events).entries.values()
    assert entry.ambiguous and entry.owner_id == contact_id_for(("phone", SHARED))
    (entry,) = project([*events, f.merged("K-2", "K-1", minute=2)]).entries.values()
    assert (entry.owner_id, entry.ambiguous) == (ERIKA, False)
    (entry,) = project([*events, f.merged("K-2", "K-1", minute=2), f.merged("K-2", "K-1", minute=3, unmerge=True)]).entries.values()
    assert entry.ambiguous and entry.candidates == tuple(sorted((ERIKA, ERIKA_TOO)))


def test_a_record_merged_into_one_that_is_merged_further_shows_on_the_last_one():
    view = project([*records(), f.merged("K-2", "K-1", minute=10), f.merged("K-1", "K-3", minute=11)])
    assert len(view.timeline(MAX)) == 4 and view.timeline(ERIKA) == []
    view.record(apply(f.merged("K-1", "K-3", minute=12, unmerge=True), view))
    assert len(view.timeline(ERIKA)) == 3 and len(view.timeline(MAX)) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_merges_of_different_records_give_the_same_timelines_in_any_order(order):
    # each record's own merges stay in order (one partition); records' events interleave freely
    streams = [[f.merged("K-2", "K-1", minute=10)], [f.merged("K-1", "K-3", minute=11)], [f.mail(6, "erika@example.org", 12)]]
    view = project([*records(), *(event for i in order for event in streams[i])])
    assert subjects_by_owner(view) == subjects_by_owner(project([*records(), *streams[0], *streams[1], *streams[2]]))


def test_an_unmerge_from_a_record_it_was_not_merged_into_changes_nothing():
    view = project([*records(), f.merged("K-2", "K-1", minute=10)])
    assert apply(f.merged("K-2", "K-3", minute=11, unmerge=True), view) == []


def test_a_record_is_never_merged_into_itself():
    view = project(records())
    assert apply(f.merged("K-1", "K-1", minute=10), view) == []


def test_new_master_data_for_a_merged_record_keeps_it_merged():
    view = project([*records(), f.merged("K-2", "K-1", minute=10),
                    f.registered("K-2", "Erika M.", emails=("e.muster@mail.example",), minute=11, version="2")])
    assert view.customer(ERIKA_TOO).merged_into == ERIKA and view.customer(ERIKA_TOO).name == "Erika M."
    assert view.timeline(ERIKA_TOO) == []


def test_records_merged_into_each_other_at_once_end_on_the_smaller_id():
    view = project([*records(), f.merged("K-2", "K-1", minute=10), f.merged("K-1", "K-2", minute=10)])
    assert root(view, ERIKA) == root(view, ERIKA_TOO) == min(ERIKA, ERIKA_TOO)
