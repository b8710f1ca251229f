"""What timeline writers lock: the rows of one customer, never all of them."""

from __future__ import annotations

from types import SimpleNamespace

from services.projector.timeline.projection import apply
from services.projector.timeline import write_keys
from services.projector.timeline.view import MemoryView
from services.projector.timeline.write_keys import event_keys, identifier_key, view_keys
from shared.privacy.master import MasterKey
from tests import timeline_factories as f

PHONE = "+4915112345678"


def test_interactions_of_different_contacts_share_no_key():
    assert not event_keys([f.mail(1, "erika@example.org", 1)]) & event_keys([f.mail(2, "max@example.org", 1)])
    assert not event_keys([f.call("started", "c1", PHONE, 1)]) & event_keys([f.form(1, "max@example.org", 1)])


def test_the_events_of_one_call_or_one_parcel_share_its_entry_key_whatever_they_carry():
    started, ended = f.call("started", "c1", PHONE, 1), f.call("ended", "c1", None, 3, disposition="missed")
    assert event_keys([started]) & event_keys([ended])
    in_transit = f.parcel("TN1", "in_transit", 1, email="erika@example.org")
    assert event_keys([in_transit]) & event_keys([f.parcel("TN1", "delivered", 2)])


def test_master_data_shares_a_key_with_the_interactions_of_every_identifier_it_names():
    registration = f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,))
    assert event_keys([registration]) & event_keys([f.mail(1, "erika@example.org", 1)])
    assert event_keys([registration]) & event_keys([f.call("started", "c1", PHONE, 1)])


def test_complaint_events_without_a_contact_share_their_complaints_key():
    assert event_keys([f.complaint_opened("CP1", 1, email="erika@example.org")]) & event_keys([f.complaint_responded("CP1", 2)])
    assert not event_keys([f.complaint_responded("CP1", 2)]) & event_keys([f.complaint_responded("CP2", 2)])


def test_a_merge_names_only_the_two_records_and_the_view_adds_the_addresses_they_claim():
    view = MemoryView()
    for event in (f.registered("K-1", "Erika Muster", emails=("erika@example.org",)),
                  f.registered("K-3", "Erika M.", emails=("erika.m@example.org",)),
                  f.mail(1, "erika.m@example.org", 2)):
        view.record(apply(event, view))
    merge = f.merged("K-3", "K-1", minute=5)
    claimed = identifier_key(("email", "erika.m@example.org"))
    assert claimed not in event_keys([merge])
    view.record(apply(merge, view))
    assert claimed in view_keys(view)


def test_with_privacy_on_no_key_is_a_plain_hash_of_an_address(monkeypatch):
    """The table of keys outlives an erasure: a plain hash would confirm a guessed address."""
    master = MasterKey.from_bytes(bytes(range(32)))
    address = ("email", "erika@example.org")
    plain = identifier_key(address, secret=b"")
    monkeypatch.setattr(write_keys, "active_sealer", lambda: SimpleNamespace(master=master))
    keys = event_keys([f.mail(1, "erika@example.org", 1)])
    assert identifier_key(address, secret=master.blind_secret) in keys
    assert plain not in keys
    other = MasterKey.from_bytes(bytes(range(1, 33)))
    assert identifier_key(address, secret=other.blind_secret) not in keys
