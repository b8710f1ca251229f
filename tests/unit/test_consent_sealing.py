"""Consent events under field encryption: the subject's address and the agent's note are sealed
under the subject's key (a form's consent under its address, an agent's under the customer
reference), the rest stays readable, and once the key is destroyed the personal fields read
back erased, so the projection holds no one's statement (form) or a redacted one (agent)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from events.codec import decode, encode, record_key, use_protection
from services.projector.consent.fold import apply
from shared.privacy.master import MasterKey
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import InMemoryKeyStore
from shared.privacy.subjects import contact_subject, customer_subject, subject_of

EXAMPLES = Path(__file__).resolve().parents[2] / "events" / "examples"
MASTER = MasterKey.from_bytes(bytes(range(32)))


def example(event_type: str, name: str):
    return decode((EXAMPLES / event_type / "1" / f"{name}.json").read_bytes())


@pytest.fixture
def keys():
    store = InMemoryKeyStore()
    previous = use_protection(FieldSealer(MASTER, store))
    yield store
    use_protection(previous)


def test_a_forms_consent_is_sealed_under_its_address_and_keyed_blind(keys):
    given = example("consent.given", "from_web_form")
    assert subject_of(MASTER, given) == contact_subject(MASTER, "email", "erika@example.org")
    wire = encode(given)
    assert b"erika@example.org" not in wire and b"erika@example.org" not in record_key(given)
    data = orjson.loads(wire)
    assert (data["payload"]["purpose"], data["payload"]["source"]["text_version"]) == ("marketing", "2026-01")
    assert decode(wire) == given


def test_an_agents_withdrawal_is_sealed_under_the_customers_key_with_its_note(keys):
    withdrawn = example("consent.withdrawn", "by_agent")
    assert subject_of(MASTER, withdrawn) == customer_subject(MASTER, "K-1001")
    assert withdrawn.payload.note.encode() not in encode(withdrawn)


def test_after_the_erasure_a_forms_consent_names_no_one_and_is_not_held(keys):
    given = example("consent.given", "from_web_form")
    wire = encode(given)
    keys.destroy([subject_of(MASTER, given)])
    erased = decode(wire)
    assert erased.contact.email is None and erased.payload.purpose == "marketing"
    assert apply(erased, None) == []


def test_after_the_erasure_an_agents_statement_keeps_its_record_without_the_note(keys):
    withdrawn = example("consent.withdrawn", "by_agent")
    wire = encode(withdrawn)
    keys.destroy([subject_of(MASTER, withdrawn)])
    erased = decode(wire)
    assert erased.payload.note is None
    [_, current] = apply(erased, None)
    assert (current.row.state, current.row.actor, current.row.customer_ref, current.row.note) == (
        "withdrawn", "anna", "K-1001", None)
