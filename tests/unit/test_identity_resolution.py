"""Identity resolution: which timeline an interaction lands on, and how links move history."""

from __future__ import annotations

import itertools

from services.projector.timeline.projection import apply
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.view import MemoryView
from tests import timeline_factories as f

ERIKA, MAX = customer_id_for("K-1"), customer_id_for("K-2")
PHONE, STRANGER = "+4915112345678", "+4930999888"


def project(events) -> MemoryView:
    view = MemoryView()
    for event in events:
        view.record(apply(event, view))
    return view


def owners(view: MemoryView) -> dict[str, str]:
    return {entry.summary: entry.owner_id for entry in view.entries.values()}


def test_an_unknown_identifier_gets_an_unmatched_contact_with_its_own_timeline():
    view = project([f.call("started", "c", STRANGER, 0), f.call("ended", "c", STRANGER, 1, disposition="missed")])
    contact = contact_id_for(("phone", STRANGER))
    assert [e.summary for e in view.timeline(contact)] == [f"Missed call from {STRANGER}"]
    assert view.customer(contact).kind == "contact" and view.customer(contact).phones == (STRANGER,)


def test_an_interaction_attaches_to_the_customer_owning_any_of_its_identifiers():
    view = project([
        f.registered("K-1", "Erika", order_refs=("O-77",)),
        f.mail(1, "new-address@example.org", 0, order_ref="O-77"),
    ])
    assert [e.details["subject"] for e in view.timeline(ERIKA)] == ["Parcel arrived damaged"]


def test_the_highest_priority_identifier_decides_between_two_customers():
    view = project([
        f.registered("K-1", "Erika", emails=("erika@example.org",)),
        f.registered("K-2", "Max", phones=(PHONE,)),
        f.form(1, "erika@example.org", 0, phone=PHONE),
    ])
    (entry,) = view.entries.values()
    assert entry.owner_id == ERIKA and not entry.ambiguous


def test_an_identifier_on_two_customers_is_flagged_not_guessed():
    view = project([
        f.registered("K-1", "Erika", phones=(PHONE,)),
        f.registered("K-2", "Max", phones=(PHONE,)),
        f.call("started", "c", PHONE, 0),
    ])
    (entry,) = view.entries.values()
    assert entry.owner_id == contact_id_for(("phone", PHONE))
    assert entry.ambiguous and entry.candidates == tuple(sorted((ERIKA, MAX)))
    assert view.identity(("phone", PHONE)).ambiguous and view.identity(("phone", PHONE)).customer_id is None
    assert view.timeline(ERIKA) == [] and view.timeline(MAX) == []


def test_history_becomes_ambiguous_when_a_second_customer_claims_its_identifier():
    view = project([
        f.registered("K-1", "Erika", phones=(PHONE,)),
        f.call("started", "c", PHONE, 0),
        f.registered("K-2", "Max", phones=(PHONE,)),
    ])
    (entry,) = view.entries.values()
    assert entry.ambiguous and entry.owner_id == contact_id_for(("phone", PHONE))


def test_linking_moves_the_contacts_history_to_the_customer_and_unlinking_moves_it_back():
    contact = contact_id_for(("phone", STRANGER))
    history = [f.registered("K-1", "Erika"), f.call("started", "c", STRANGER, 0), f.form(1, "x@example.org", 1, phone=STRANGER)]
    view = project(history)
    assert len(view.timeline(contact)) == 1 and view.timeline(ERIKA) == []

    view.record(apply(f.linked("phone", STRANGER, "K-1", minute=5), view))
    assert view.timeline(contact) == [] and [e.channel for e in view.timeline(ERIKA)] == ["webform", "phone"]

    view.record(apply(f.linked("phone", STRANGER, "K-1", minute=6, unlink=True), view))
    assert view.timeline(ERIKA) == [] and len(view.timeline(contact)) == 1
    assert view.timeline(contact_id_for(("email", "x@example.org")))[0].channel == "webform"


def test_new_master_data_takes_over_the_unmatched_history_of_its_identifiers():
    view = project([f.mail(1, "erika@example.org", 0), f.registered("K-1", "Erika", emails=("erika@example.org",))])
    assert len(view.timeline(ERIKA)) == 1 and view.timeline(contact_id_for(("email", "erika@example.org"))) == []


def test_a_master_data_update_that_drops_an_identifier_releases_its_history():
    view = project([
        f.registered("K-1", "Erika", emails=("erika@example.org",), phones=(PHONE,)),
        f.call("started", "c", PHONE, 0),
        f.registered("K-1", "Erika", emails=("erika@example.org",), minute=10, version="2"),
    ])
    assert view.timeline(ERIKA) == [] and len(view.timeline(contact_id_for(("phone", PHONE)))) == 1


def test_where_history_lands_does_not_depend_on_the_order_events_arrive_in():
    events = [
        f.registered("K-1", "Erika", emails=("erika@example.org",)),
        f.registered("K-2", "Max", phones=(PHONE,)),
        f.mail(1, "erika@example.org", 0),
        f.call("started", "c", PHONE, 1),
        f.linked("phone", STRANGER, "K-2", minute=2),
        f.form(2, "x@example.org", 3, phone=STRANGER),
    ]
    expected = owners(project(events))
    assert expected[f"Call from {PHONE} (ringing)"] == MAX
    for order in itertools.permutations(events):
        assert owners(project(order)) == expected


def test_master_data_taking_over_a_long_history_resolves_its_identifier_once():
    history = [f.mail(n, "erika@example.org", n, order_ref="O-77") for n in range(30)]
    view = project(history)
    looked_up: list = []

    class Counting:  # the view, counting the identity lookups resolution makes
        def __getattr__(self, name):
            return getattr(view, name)

        def identity(self, identifier):
            looked_up.append(identifier)
            return view.identity(identifier)

    changes = apply(f.registered("K-1", "Erika", emails=("erika@example.org",), minute=60), Counting())
    moved = [c for c in changes if getattr(c, "owner_id", None) == ERIKA]
    assert len(moved) == 30
    assert looked_up.count(("email", "erika@example.org")) == 1  # the claim
    assert looked_up.count(("order_ref", "O-77")) == 1  # resolving the mails' identifiers, once for all
