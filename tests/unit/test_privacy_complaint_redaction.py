"""Which complaints an erasure or an expiry redacts, and how (pure `apply`), and what a redacted
complaint event keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from events.codec import decode
from events.envelope import ActorRef
from events.ids import event_id_for
from events.privacy import (
    CustomerErased,
    CustomerErasedPayload,
    PrivacyExpired,
    PrivacyExpiredPayload,
    Restriction,
)
from services.projector.privacy.complaint_redaction import Redaction, Row, apply, redacted_body
from services.projector.timeline.rows import contact_id_for
from tests.complaint_builders import opened, responded, utc

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ERIKA = "erika@example.org"


def expired(retention_class: str, year: int, types: tuple[str, ...]) -> PrivacyExpired:
    return PrivacyExpired(
        event_id=event_id_for("privacy.expired", retention_class, year), occurred_at=NOW, recorded_at=NOW,
        source="retention", payload=PrivacyExpiredPayload(retention_class=retention_class, year=year, types=types,
                                                          expires_at=NOW, keys_destroyed=1))


def erased(*restricted: Restriction) -> CustomerErased:
    return CustomerErased(
        event_id=event_id_for("customer.erased", "e-1"), occurred_at=NOW, recorded_at=NOW, source="erasure",
        payload=CustomerErasedPayload(erasure_id="e-1", timeline_ids=(contact_id_for(("email", ERIKA)),),
                                      subjects=(), keys_destroyed=1, actor=ActorRef(name="ada"),
                                      restricted=restricted))


def test_an_expiry_redacts_complaints_opened_by_its_types_in_its_utc_year_and_erases_restricted_ones():
    rows = [Row("form-2024", "webform", utc("2024-03-01 00:00")), Row("mail-2024", "email", utc("2024-03-01 00:00")),
            Row("form-2023", "webform", utc("2023-12-31 23:30")),
            Row("held", "webform", utc("2024-06-01 00:00"), redacted="restricted"),
            Row("gone", "webform", utc("2024-06-01 00:00"), redacted="erased")]
    assert apply(expired("webform.*", 2024, ("webform.submitted",)), rows) == [
        Redaction("form-2024", "expired"), Redaction("held", "erased")]


def test_an_erasure_restricts_the_complaints_of_held_classes_and_erases_the_rest_of_the_subject():
    until = datetime(2031, 1, 1, tzinfo=UTC)
    rows = [Row("new", "email", utc("2024-05-01 10:00"), email=ERIKA), Row("old", "email", utc("2019-05-01 10:00"), email=ERIKA),
            Row("other", "email", utc("2024-05-01 10:00"), email="max@example.org")]
    held = Restriction(retention_class="email.*", year=2024, until=until, types=("email.received", "email.sent"))
    assert apply(erased(held), rows) == [Redaction("new", "restricted", until), Redaction("old", "erased")]


def test_a_redacted_complaint_event_keeps_its_facts_and_loses_subject_address_and_note():
    opening = decode(redacted_body(opened(utc("2024-05-01 10:00"), subject="Kühlschrank brummt"), "expired"))
    assert (opening.payload.subject, opening.contact.email, opening.customer_id) == ("expired", None, "cust-1")
    assert opening.payload.origin == "webform" and opening.occurred_at == utc("2024-05-01 10:00")
    response = decode(redacted_body(responded(utc("2024-05-02 10:00"), note="ruft an: 0170 123"), "expired"))
    assert response.payload.note is None and response.payload.via == "email"
