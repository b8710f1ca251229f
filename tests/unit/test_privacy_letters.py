"""Dead letters holding personal data no event protects (an unreadable mail's raw bytes): sealed
under the key of the mail's customer and period, opened while the key exists, erased after."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.codec import use_protection
from services.ingest.imap.deadletters import MailPlace, customer_address, sealed
from shared.kafka.deadletter import DeadLetter
from shared.privacy.letters import LetterErased, open_letter
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import InMemoryKeyStore
from shared.privacy.subjects import NOBODY, contact_subject

MASTER = MasterKey.from_bytes(bytes(range(32)))
RAW = (b"From: Erika Muster <Erika@Example.ORG>\r\nTo: support@shop.example, other@shop.example\r\n"
       b"Subject: Mein Anliegen\r\n\r\nGeheimer Text\r\n")
PLACE = MailPlace("support", "INBOX", 7, 42, "incoming", datetime(2024, 5, 1, 9, 30, tzinfo=UTC), historic=False)


@pytest.fixture
def sealer():
    sealer = FieldSealer(MASTER, InMemoryKeyStore(), RetentionRules.from_config({"email.*": "6y"}))
    previous = use_protection(sealer)
    yield sealer
    use_protection(previous)


def letter(raw: bytes = RAW) -> DeadLetter:
    return DeadLetter(service="imap", reason="ValueError: x", original=raw, source=PLACE.source())


def test_a_letter_is_sealed_under_its_sender_and_the_mail_retention_period_and_opens_while_the_key_exists(sealer):
    sealed_letter = sealed(letter(), RAW, PLACE)
    assert b"Erika" not in sealed_letter.original and b"Geheimer" not in sealed_letter.original
    [(subject, period, _)] = sealer.store.keys.values()
    assert (subject, period) == (contact_subject(MASTER, "email", "erika@example.org"), "2024|email.*")
    assert ("dlq.sealed_key", sealed_letter.sealed_key.encode()) in sealed_letter.headers()
    read_back = DeadLetter.from_record(sealed_letter.original, None, sealed_letter.headers())
    assert open_letter(sealer, read_back).original == RAW


def test_a_letter_whose_key_is_destroyed_reads_as_erased(sealer):
    sealed_letter = sealed(letter(), RAW, PLACE)
    sealer.store.destroy([contact_subject(MASTER, "email", "erika@example.org")])
    with pytest.raises(LetterErased, match="erased"):
        open_letter(sealer, sealed_letter)


def test_a_mail_without_a_readable_address_is_sealed_under_nobody(sealer):
    raw = b"Subject: no sender\r\n\r\nText\r\n"
    sealed(letter(raw), raw, PLACE)
    [(subject, period, _)] = sealer.store.keys.values()
    assert (subject, period) == (NOBODY, "2024|email.*")


def test_the_customer_address_is_from_for_incoming_and_the_first_to_for_outgoing_mail():
    assert customer_address(RAW, "incoming") == "erika@example.org"
    assert customer_address(RAW, "outgoing") == "support@shop.example"
    assert customer_address(b"\xff\xfe garbage without headers", "incoming") is None


def test_without_privacy_a_letter_stays_plain_and_opens_as_it_is():
    plain = sealed(letter(), RAW, PLACE)
    assert plain.original == RAW and plain.sealed_key is None and open_letter(None, plain) == plain


def test_the_mail_place_reads_back_from_the_letter_source_old_and_new():
    assert MailPlace.of(letter()) == PLACE
    old = DeadLetter(service="imap", reason="x", original=RAW, source="imap:support/INBOX;uidvalidity=7;uid=42",
                     first_seen=PLACE.received_at)
    assert MailPlace.of(old) == PLACE
