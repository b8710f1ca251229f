"""Classification: which mails are automatic (auto-replies, bounces) and why. Classified mail
never opens complaints or notifications, so auto-reply loops cannot start."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from services.ingest.imap.classify import classify
from services.ingest.imap.parse import parse_message
from shared.blobs import InMemoryBlobStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "mail"


def verdict_for(headers: str, sender: str = "kunde@example.org", subject: str = "Frage"):
    raw = (f"From: {sender}\r\nSubject: {subject}\r\n" + headers + "\r\nText\r\n").encode()
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    return classify(msg, sender, subject)


HEADER_CASES = [
    ("", "kunde@example.org", "Frage", "normal", ()),
    ("Auto-Submitted: no\r\n", "kunde@example.org", "Frage", "normal", ()),
    ("Auto-Submitted: auto-replied\r\n", "kunde@example.org", "Frage", "auto_reply", ("Auto-Submitted: auto-replied",)),
    ("Auto-Submitted: auto-generated\r\n", "kunde@example.org", "Frage", "auto_reply", ("Auto-Submitted: auto-generated",)),
    ("X-Autoreply: yes\r\n", "kunde@example.org", "Frage", "auto_reply", ("X-Autoreply present",)),
    ("X-Autorespond: Ich bin im Urlaub\r\n", "kunde@example.org", "Frage", "auto_reply", ("X-Autorespond present",)),
    ("X-Auto-Response-Suppress: OOF\r\n", "kunde@example.org", "Frage", "auto_reply", ("X-Auto-Response-Suppress present",)),
    ("X-Loop: support@shop.example\r\n", "kunde@example.org", "Frage", "auto_reply", ("X-Loop present",)),
    ("Precedence: bulk\r\n", "kunde@example.org", "Frage", "auto_reply", ("Precedence: bulk",)),
    ("Precedence: junk\r\n", "kunde@example.org", "Frage", "auto_reply", ("Precedence: junk",)),
    ("Precedence: auto_reply\r\n", "kunde@example.org", "Frage", "auto_reply", ("Precedence: auto_reply",)),
    ("Precedence: list\r\nList-Id: <news.example>\r\n", "kunde@example.org", "Frage", "auto_reply",
     ("List-Id present", "Precedence: list")),
    ("List-Unsubscribe: <mailto:u@news.example>\r\n", "kunde@example.org", "Frage", "auto_reply", ("List-Unsubscribe present",)),
    ("", "noreply@shop.example", "Versandbestätigung", "auto_reply", ("sender: noreply",)),
    ("", "no-reply@bank.example", "Konto", "auto_reply", ("sender: no-reply",)),
    ("", "do-not-reply@bank.example", "Konto", "auto_reply", ("sender: do-not-reply",)),
    ("", "postmaster@mx.example", "Hinweis", "auto_reply", ("sender: postmaster",)),
    ("", "mailer-daemon@mx.example", "Hinweis", "auto_reply", ("sender: mailer-daemon",)),
    ("Return-Path: <>\r\n", "kunde@example.org", "Frage", "auto_reply", ("Return-Path: <>",)),
    ("", "kunde@example.org", "Out of Office: Frage", "auto_reply", ("Subject: Out of Office: Frage",)),
    ("", "kunde@example.org", "Automatische Antwort: Frage", "auto_reply", ("Subject: Automatische Antwort: Frage",)),
    ("Return-Path: <>\r\n", "MAILER-DAEMON@mx.example".lower(), "Undelivered Mail Returned to Sender", "bounce",
     ("sender: mailer-daemon", "Return-Path: <>", "Subject: Undelivered Mail Returned to Sender")),
    ("", "postmaster@mx.example", "Delivery Status Notification (Failure)", "bounce",
     ("sender: postmaster", "Subject: Delivery Status Notification (Failure)")),
    # an ordinary sender whose subject merely mentions delivery is a customer, not a bounce
    ("", "kunde@example.org", "Undeliverable parcel?", "normal", ()),
]


@pytest.mark.parametrize(("headers", "sender", "subject", "classification", "reasons"), HEADER_CASES)
def test_classification_and_its_reasons(headers, sender, subject, classification, reasons):
    verdict = verdict_for(headers, sender, subject)
    assert (verdict.classification, verdict.reasons) == (classification, reasons)


def parsed(fixture: str):
    return parse_message((FIXTURES / fixture).read_bytes(), mailbox="support", folder="INBOX", uid=1, uidvalidity=1,
                         direction="incoming", received_at=datetime(2026, 3, 14, tzinfo=UTC), blobs=InMemoryBlobStore())


FIXTURE_CASES = [
    ("multipart_alternative.eml", "normal"),
    ("thread_1.eml", "normal"),
    ("auto_reply_out_of_office.eml", "auto_reply"),
    ("auto_reply_vacation.eml", "auto_reply"),
    ("newsletter.eml", "auto_reply"),
    ("noreply_notification.eml", "auto_reply"),
    ("dsn_bounce.eml", "bounce"),
]


@pytest.mark.parametrize(("fixture", "classification"), FIXTURE_CASES)
def test_real_world_mails_are_classified(fixture, classification):
    assert parsed(fixture).payload.classification == classification


def test_a_dsn_bounce_names_the_original_message_and_the_failed_recipient():
    event = parsed("dsn_bounce.eml")
    assert event.payload.classification_reasons == ("Content-Type: multipart/report; report-type=delivery-status",)
    assert event.payload.bounced_message_id == "<reply-4711-1@shop.example>"
    assert event.payload.bounced_recipients == ("old.customer@example.net",)
    # the bounce belongs on the timeline of the customer it failed to reach
    assert event.contact.email == "old.customer@example.net"


def test_a_bounce_without_a_report_still_recovers_the_original_id_from_the_quoted_headers():
    raw = (
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@legacy.example\r\nTo: support@shop.example\r\n"
        "Subject: failure notice\r\n\r\nHi. This is the qmail-send program.\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        "Message-ID: <orig-77@shop.example>\r\nSubject: Ihre Anfrage\r\n"
    ).encode()
    event = parse_message(raw, mailbox="support", folder="INBOX", uid=1, uidvalidity=1, direction="incoming",
                          received_at=datetime(2026, 3, 14, tzinfo=UTC), blobs=InMemoryBlobStore())
    assert event.payload.classification == "bounce"
    assert event.payload.bounced_message_id == "<orig-77@shop.example>"
