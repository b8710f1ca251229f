"""Consent as a fold and as a decision: every statement goes into the history, the newest one
per subject and purpose is the current state whatever the reading order, an erasure redacts
the personal data and keeps the record, and an agent's statement is refused when it names no
one, an unknown purpose, or repeats the current state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.consent import ConsentGiven, ConsentWithdrawn
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.privacy import CustomerErased
from services.projector.consent.decide import RecordConsent, decide
from services.projector.consent.fold import AddHistory, ConsentRow, Redact, SetCurrent, apply
from services.projector.customers.commands import Rejected
from services.projector.timeline.rows import CustomerRow, contact_id_for, customer_id_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PURPOSES = ["contact", "marketing"]
ERIKA = CustomerRow(id=customer_id_for("K-1"), kind="customer", name="Erika", customer_ref="K-1",
                    emails=("erika@example.org",))


def from_form(at: datetime = T0, given: bool = True, email: str = "erika@example.org"):
    cls = ConsentGiven if given else ConsentWithdrawn
    return cls(event_id=event_id_for("consent", "form", at.isoformat(), given), occurred_at=at, recorded_at=at,
               source="webform:newsletter", contact=ContactIdentifiers(email=email),
               payload={"purpose": "marketing", "source": {"kind": "webform", "form_id": "newsletter",
                                                           "field": "optin", "text_version": "2026-01"}})


def fold(events):
    """The projection in memory: current rows per (subject, purpose) and the history."""
    current: dict[tuple[str, str], ConsentRow] = {}
    history: dict[str, ConsentRow] = {}
    for event in events:
        held = None
        if hasattr(event.payload, "purpose"):
            held = next((r for (s, p), r in current.items() if p == event.payload.purpose
                         and s == contact_id_for(("email", event.contact.email))), None)
        for change in apply(event, held):
            match change:
                case AddHistory(row=row):
                    history[row.event_id] = row
                case SetCurrent(row=row):
                    current[(row.subject_id, row.purpose)] = row
    return current, history


def test_consent_from_a_form_is_held_for_the_contact_of_its_address_with_how_it_was_given():
    current, history = fold([from_form()])
    row = current[(contact_id_for(("email", "erika@example.org")), "marketing")]
    assert (row.state, row.source_kind, row.form_id, row.text_version) == ("given", "webform", "newsletter", "2026-01")
    assert row.email == "erika@example.org"
    assert len(history) == 1


def test_a_later_withdrawal_is_the_current_state_and_both_stay_in_the_history():
    current, history = fold([from_form(), from_form(T0 + timedelta(days=2), given=False)])
    [row] = current.values()
    assert row.state == "withdrawn"
    assert sorted(r.state for r in history.values()) == ["given", "withdrawn"]


def test_the_newest_statement_wins_whatever_order_the_events_are_read_in():
    events = [from_form(), from_form(T0 + timedelta(days=2), given=False), from_form(T0 + timedelta(days=5))]
    for order in (events, events[::-1], [events[1], events[2], events[0]]):
        current, _ = fold(order)
        assert [r.state for r in current.values()] == ["given"]
        assert [r.occurred_at for r in current.values()] == [T0 + timedelta(days=5)]


def test_an_erasure_redacts_the_subjects_it_names():
    erased = CustomerErased(
        event_id=event_id_for("erased", 1), occurred_at=T0, recorded_at=T0, source="erasure",
        payload={"erasure_id": "e-1", "customer_ref": "K-1", "timeline_ids": [customer_id_for("K-1")],
                 "subjects": ["customer:x"], "keys_destroyed": 1, "actor": {"name": "admin"}})
    assert apply(erased, None) == [Redact((customer_id_for("K-1"),))]


def test_a_statement_about_an_erased_subject_read_after_the_erasure_is_held_without_personal_data():
    changes = apply(from_form(), None, erased=True)
    assert [type(c) for c in changes] == [AddHistory, SetCurrent]
    assert all(c.row.email is None and c.row.note is None and c.row.state == "given" for c in changes)


def test_a_statement_whose_key_was_shredded_before_it_was_read_is_not_held():
    event = from_form()
    unreadable = event.model_copy(update={"contact": ContactIdentifiers()})  # what a shredded key leaves
    assert apply(unreadable, None) == []


def record(purpose="marketing", given=False, customer_id=ERIKA.id):
    return RecordConsent(customer_id, purpose, given, "anna", "api", "said so on the phone")


def test_an_agent_records_a_withdrawal_on_the_customers_reference_naming_the_agent():
    event = decide(record(), ERIKA, "given", PURPOSES, T0)
    assert event.type == "consent.withdrawn"
    assert event.contact.customer_ref == "K-1" and event.customer_id == ERIKA.id
    assert event.payload.source.actor.name == "anna"
    assert event.payload.note == "said so on the phone"
    assert event.channel == "agent"


def test_on_an_unmatched_contact_the_statement_is_keyed_by_its_address():
    contact = CustomerRow(id=contact_id_for(("email", "x@example.org")), kind="contact", emails=("x@example.org",))
    assert decide(record(given=True), contact, "unknown", PURPOSES, T0).contact.email == "x@example.org"


@pytest.mark.parametrize(("command", "owner", "current", "status", "code"), [
    (record(customer_id="nope"), None, "unknown", 404, "not_found"),
    (record(purpose="profiling"), ERIKA, "unknown", 422, "unknown_purpose"),
    (record(given=False), ERIKA, "withdrawn", 409, "already_withdrawn"),
    (record(given=True), ERIKA, "given", 409, "already_given"),
])
def test_a_statement_that_cannot_be_recorded_is_refused_saying_why(command, owner, current, status, code):
    with pytest.raises(Rejected) as refused:
        decide(command, owner, current, PURPOSES, T0)
    assert (refused.value.status, refused.value.code) == (status, code)


def test_a_contact_without_address_or_number_has_no_one_to_record_consent_for():
    with pytest.raises(Rejected, match="no address or number"):
        decide(record(), CustomerRow(id="c-1", kind="contact", order_refs=("A-1",)), "unknown", PURPOSES, T0)

