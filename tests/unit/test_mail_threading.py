"""Threading: a thread key from References / In-Reply-To, falling back to the normalised
subject plus the customer's address, with the evidence recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.ingest.imap.parse import parse_message
from services.ingest.imap.thread_keys import normalise_subject, subject_key, thread_key
from shared.blobs import InMemoryBlobStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mail"


@pytest.mark.parametrize(
    ("subject", "normalised"),
    [
        ("Umtausch Jacke", "umtausch jacke"),
        ("Re: Umtausch Jacke", "umtausch jacke"),
        ("RE: AW: Umtausch  Jacke ", "umtausch jacke"),
        ("AW: WG: Fwd: Umtausch Jacke", "umtausch jacke"),
        ("Re[2]: Umtausch Jacke", "umtausch jacke"),
        ("Re(3): Fw: Umtausch Jacke", "umtausch jacke"),
        ("Antw: SV: Umtausch Jacke", "umtausch jacke"),
        ("[EXTERNAL] Re: Umtausch Jacke", "umtausch jacke"),
        ("Return of goods", "return of goods"),
        ("Reklamation", "reklamation"),
        ("", ""),
    ],
)
def test_subjects_are_normalised_without_reply_and_forward_prefixes(subject, normalised):
    assert normalise_subject(subject) == normalised


@pytest.mark.parametrize(
    ("message_id", "in_reply_to", "references", "subject", "key", "evidence"),
    [
        ("<c@x>", "<b@x>", "<a@x> <b@x>", "Re: Re: Hallo", "msgid:<a@x>", "references"),
        ("<c@x>", "<b@x>", "", "Re: Hallo", "msgid:<b@x>", "in_reply_to"),
        ("<c@x>", "b@x", "", "Re: Hallo", "msgid:<b@x>", "in_reply_to"),
        ("<c@x>", "", "", "Re: Hallo", subject_key("Hallo", "kunde@example.org"), "subject"),
        ("<c@x>", "", "", "Hallo", "msgid:<c@x>", "message_id"),
        (None, "", "", "Hallo", subject_key("hallo", "kunde@example.org"), "subject"),
        (None, "", "", "", "mail:f00d", "none"),
    ],
)
def test_the_thread_key_and_the_evidence_it_rests_on(message_id, in_reply_to, references, subject, key, evidence):
    found = thread_key(message_id, in_reply_to, references, subject, "kunde@example.org", fallback="f00d")
    assert (found.key, found.evidence) == (key, evidence)


def test_the_subject_fallback_keeps_different_customers_apart():
    assert subject_key("Re: Rechnung", "a@example.org") != subject_key("Re: Rechnung", "b@example.org")
    assert subject_key("Re: Rechnung", "a@example.org") == subject_key("AW: rechnung", "a@example.org")


def test_a_three_mail_conversation_shares_one_thread_key():
    events = [
        parse_message((FIXTURES / f"thread_{n}.eml").read_bytes(), mailbox="support", folder=folder, uid=n,
                      uidvalidity=1, direction=direction, received_at=datetime(2026, 3, 11, tzinfo=UTC),
                      blobs=InMemoryBlobStore())
        for n, folder, direction in [(1, "INBOX", "incoming"), (2, "Sent", "outgoing"), (3, "INBOX", "incoming")]
    ]
    assert {e.payload.thread_key for e in events} == {"msgid:<thread-root-1@example.org>"}
    assert [e.payload.thread_evidence for e in events] == ["message_id", "references", "references"]
    assert {e.contact.email for e in events} == {"lena.schmidt@example.org"}
    assert events[2].payload.references == ("<thread-root-1@example.org>", "<thread-answer-2@shop.example>")
    assert events[2].payload.in_reply_to == "<thread-answer-2@shop.example>"
