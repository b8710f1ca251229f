"""The timeline fold: events in, expected timeline out (no I/O)."""

from __future__ import annotations

import itertools

import pytest

from services.projector.timeline.projection import apply
from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.view import MemoryView
from tests import timeline_factories as f

ERIKA = customer_id_for("K-1")
PHONE = "+4915112345678"


def project(events) -> MemoryView:
    view = MemoryView()
    for event in events:
        view.record(apply(event, view))
    return view


def erika():
    return f.registered("K-1", "Erika Muster", emails=("erika@example.org",), phones=(PHONE,))


def summaries(view: MemoryView, owner: str = ERIKA) -> list[str]:
    return [entry.summary for entry in view.timeline(owner)]


def test_a_cross_channel_history_lands_newest_first_on_the_customers_timeline():
    view = project([
        erika(),
        f.mail(1, "erika@example.org", 1),
        f.call("started", "c1", PHONE, 2), f.call("answered", "c1", PHONE, 2.5, answered_by="21"),
        f.call("ended", "c1", PHONE, 6, disposition="answered", duration_seconds=184, answered_by="21"),
        f.form(1, "erika@example.org", 10),
        f.parcel("TN1", "in_transit", 20, email="erika@example.org"),
        f.mail(2, "erika@example.org", 30, sent=True, subject="Re: Parcel arrived damaged"),
    ])
    assert [(e.channel, e.direction) for e in view.timeline(ERIKA)] == [
        ("email", "outbound"), ("shipping", None), ("webform", "inbound"), ("phone", "inbound"), ("email", "inbound"),
    ]
    assert summaries(view) == [
        "Mail to erika@example.org: Re: Parcel arrived damaged",
        "Parcel TN1 (DHL): in transit",
        "Form contact (contact) from Erika Muster: Order",
        "Call from +4915112345678 with 21, 3m 04s",
        "Mail from Erika Muster: Parcel arrived damaged",
    ]


@pytest.mark.parametrize(
    ("events", "state", "missed", "summary"),
    [
        ([f.call("started", "c", PHONE, 0)], "ringing", False, "Call from +4915112345678 (ringing)"),
        ([f.call("started", "c", PHONE, 0), f.call("ended", "c", PHONE, 1, disposition="missed")],
         "ended", True, "Missed call from +4915112345678"),
        ([f.call("started", "c", PHONE, 0), f.call("ended", "c", PHONE, 1, disposition="busy")],
         "ended", True, "Missed call from +4915112345678 (busy)"),
        ([f.call("started", "c", PHONE, 0), f.call("answered", "c", PHONE, 0.2, answered_by="21")],
         "answered", False, "Call from +4915112345678 with 21 (in progress)"),
        ([f.call("started", "c", PHONE, 0, direction="outbound"), f.call("ended", "c", PHONE, 1, direction="outbound", disposition="missed")],
         "ended", True, "Missed call to +4930555000"),
    ],
)
def test_a_calls_events_fold_into_one_entry_with_its_final_state(events, state, missed, summary):
    view = project([erika(), *events])
    (entry,) = view.timeline(ERIKA)
    assert (entry.details["state"], entry.details["missed"], entry.summary) == (state, missed, summary)


def test_hangup_without_answer_is_a_missed_call():
    view = project([erika(), f.call("started", "c", PHONE, 0), f.call("ended", "c", PHONE, 1, disposition="rejected")])
    (entry,) = view.timeline(ERIKA)
    assert entry.details["missed"] is True and entry.type == "call.ended"


def test_call_fold_is_the_same_whatever_order_its_events_arrive_in():
    events = [
        f.call("started", "c", PHONE, 0), f.call("answered", "c", PHONE, 0.5, answered_by="21"),
        f.call("ended", "c", PHONE, 4, disposition="answered", duration_seconds=210, answered_by="21"),
    ]
    expected = project([erika(), *events]).timeline(ERIKA)
    for order in itertools.permutations(events):
        assert project([erika(), *order]).timeline(ERIKA) == expected
    (entry,) = project([erika(), *events]).timeline(ERIKA)
    assert entry.occurred_at == f.at(0) and entry.event_id == str(events[0].event_id)


def test_parcel_updates_group_per_tracking_number_showing_the_latest_with_history():
    view = project([
        erika(),
        f.parcel("TN1", "delivered", 50, email="erika@example.org"),
        f.parcel("TN1", "label_created", 0, email="erika@example.org"),
        f.parcel("TN1", "in_transit", 10, email="erika@example.org"),
        f.parcel("TN2", "exception", 20, email="erika@example.org"),
    ])
    first, second = view.timeline(ERIKA)
    assert first.summary == "Parcel TN1 (DHL): delivered" and first.occurred_at == f.at(50)
    assert [step["status"] for step in first.details["history"]] == ["label_created", "in_transit", "delivered"]
    assert second.details["tracking_number"] == "TN2" and second.details["status"] == "exception"


def test_mail_keeps_thread_key_and_marks_auto_replies_and_bounces():
    view = project([
        erika(),
        f.mail(1, "erika@example.org", 0),
        f.mail(2, "erika@example.org", 1, subject="Out of office", classification="auto_reply"),
        f.mail(3, "erika@example.org", 2, subject="Undeliverable", classification="bounce"),
    ])
    bounce, auto, normal = view.timeline(ERIKA)
    assert (bounce.details["bounce"], auto.details["auto_reply"], normal.details["auto_reply"]) == (True, True, False)
    assert bounce.summary.startswith("[bounce] ") and auto.summary.startswith("[auto-reply] ")
    assert {e.details["thread_key"] for e in (bounce, auto, normal)} == {"msgid:<m1@example.org>"}


def test_complaint_events_appear_on_the_timeline_of_the_complaints_contact():
    view = project([
        erika(),
        f.complaint_responded("CP1", 30),  # arrives before it is known whose complaint it is
        f.complaint_opened("CP1", 10, email="erika@example.org"),
        f.sla_breached("CP1", 40),
    ])
    assert summaries(view) == [
        "SLA breached: first response was due 2026-03-02 09:40 UTC",
        "Complaint answered via email by anna",
        "Complaint opened (high): Parcel arrived damaged",
    ]


def test_entries_record_source_time_and_capture_time():
    view = project([erika(), f.mail(1, "erika@example.org", 5)])
    (entry,) = view.timeline(ERIKA)
    assert (entry.occurred_at, (entry.recorded_at - entry.occurred_at).total_seconds()) == (f.at(5), 2)


def test_the_same_event_applied_twice_changes_nothing():
    events = [erika(), f.call("started", "c", PHONE, 0), f.parcel("TN1", "delivered", 5, email="erika@example.org")]
    once = project(events)
    twice = project(events + events)
    assert once.entries == twice.entries


def bounce_of(n: int, email: str, minute: float, bounced: str):
    event = f.mail(n, email, minute, subject="Undelivered Mail Returned to Sender", classification="bounce")
    payload = event.payload.model_copy(update={"bounced_message_id": bounced, "bounced_recipients": (email,)})
    return event.model_copy(update={"payload": payload})


@pytest.mark.parametrize("bounce_first", [False, True])
def test_a_bounce_links_to_the_mail_it_bounced_whichever_arrives_first(bounce_first):
    sent = f.mail(1, "erika@example.org", 0, sent=True)
    bounce = bounce_of(2, "erika@example.org", 1, bounced="<m1@example.org>")
    view = project([erika(), *([bounce, sent] if bounce_first else [sent, bounce])])
    bounce_entry, sent_entry = view.timeline(ERIKA)
    assert bounce_entry.details["bounced_message_id"] == "<m1@example.org>"
    assert bounce_entry.details["bounced_entry_id"] == sent_entry.id
    assert bounce_entry.details["bounced_event_id"] == str(sent.event_id)
    assert bounce_entry.details["bounced_recipients"] == ["erika@example.org"]


def test_a_bounce_of_a_mail_never_captured_keeps_its_message_id_without_a_link():
    view = project([erika(), bounce_of(2, "erika@example.org", 1, bounced="<elsewhere@example.org>")])
    (entry,) = view.timeline(ERIKA)
    assert entry.details["bounced_message_id"] == "<elsewhere@example.org>" and entry.details["bounced_entry_id"] is None


def test_list_mail_is_marked_and_makes_its_unknown_sender_no_contact():
    view = project([f.mail(1, "news@shop-news.example", 0, subject="Neuigkeiten", classification="list")])
    assert view.customers == {}
    view = project([f.mail(1, "news@shop-news.example", 0, subject="Neuigkeiten", classification="list"),
                    f.mail(2, "news@shop-news.example", 1, subject="Eine echte Frage")])
    (contact,) = view.customers.values()
    question, newsletter = view.timeline(contact.id)
    assert newsletter.summary.startswith("[list] ") and newsletter.details["list"] is True
    assert question.details["classification"] == "normal"


def test_an_address_that_hard_bounced_is_marked_and_stays_marked_when_a_customer_claims_it():
    view = project([bounce_of(2, "erika@example.org", 5, bounced="<m1@example.org>"),
                    bounce_of(3, "erika@example.org", 3, bounced="<m0@example.org>")])  # an older one, late
    assert view.identity(("email", "erika@example.org")).hard_bounced_at == f.at(5)
    view.record(apply(erika(), view))
    identity = view.identity(("email", "erika@example.org"))
    assert identity.hard_bounced_at == f.at(5) and identity.customer_id == ERIKA
