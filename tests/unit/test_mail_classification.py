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
from tests.corpora import FLUFL_NOT_BOUNCES, flufl_bounce_corpus

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
    ("Precedence: bulk\r\n", "kunde@example.org", "Frage", "list", ("Precedence: bulk",)),
    ("Precedence: junk\r\n", "kunde@example.org", "Frage", "auto_reply", ("Precedence: junk",)),
    ("Precedence: auto_reply\r\n", "kunde@example.org", "Frage", "auto_reply", ("Precedence: auto_reply",)),
    # newsletters and mailing lists are their own class
    ("Precedence: list\r\nList-Id: <news.example>\r\n", "kunde@example.org", "Frage", "list",
     ("List-Id present", "Precedence: list")),
    ("List-Unsubscribe: <mailto:u@news.example>\r\n", "kunde@example.org", "Frage", "list", ("List-Unsubscribe present",)),
    ("List-Unsubscribe: <mailto:u@news.example>\r\nAuto-Submitted: auto-generated\r\n", "news@news.example", "März",
     "list", ("List-Unsubscribe present", "Auto-Submitted: auto-generated")),
    # an autoresponder answering through a list is still an auto-reply
    ("Auto-Submitted: auto-replied\r\nList-Id: <news.example>\r\n", "kunde@example.org", "Frage", "auto_reply",
     ("Auto-Submitted: auto-replied",)),
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


def parsed_raw(raw: bytes):
    return parse_message(raw, mailbox="support", folder="INBOX", uid=1, uidvalidity=1, direction="incoming",
                         received_at=datetime(2026, 3, 14, tzinfo=UTC), blobs=InMemoryBlobStore())


FIXTURE_CASES = [
    ("multipart_alternative.eml", "normal"),
    ("thread_1.eml", "normal"),
    ("auto_reply_out_of_office.eml", "auto_reply"),
    ("auto_reply_vacation.eml", "auto_reply"),
    ("newsletter.eml", "list"),
    ("noreply_notification.eml", "auto_reply"),
    ("dsn_bounce.eml", "bounce"),
]


@pytest.mark.parametrize(("fixture", "classification"), FIXTURE_CASES)
def test_real_world_mails_are_classified(fixture, classification):
    assert parsed(fixture).payload.classification == classification


def test_a_dsn_bounce_names_the_original_message_and_the_failed_recipient():
    event = parsed("dsn_bounce.eml")
    assert event.payload.classification_reasons[0] == "Content-Type: multipart/report; report-type=delivery-status"
    assert "flufl.bounce: 1 recipient(s) failed" in event.payload.classification_reasons
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


# ---- the real-world corpus ------------------------------------------------------------------


def corpus_mails() -> list[Path]:
    return sorted(flufl_bounce_corpus().glob("*.txt"))


def test_the_bounce_corpus_is_complete():
    assert len(corpus_mails()) == 117


def test_at_least_95_percent_of_real_world_bounces_are_recognised_with_their_failed_recipients():
    bounces = [path for path in corpus_mails() if path.name not in FLUFL_NOT_BOUNCES]
    events = {path.name: parsed_raw(path.read_bytes()) for path in bounces}
    recognised = [name for name, event in events.items() if event.payload.classification == "bounce"]
    with_recipients = [name for name in recognised
                       if events[name].payload.bounced_recipients or events[name].payload.delayed_recipients]
    assert len(recognised) / len(bounces) >= 0.95, sorted(set(events) - set(recognised))
    assert len(with_recipients) / len(bounces) >= 0.95, sorted(set(events) - set(with_recipients))


@pytest.mark.parametrize(("name", "failed", "delayed"), [
    ("postfix_01.txt", ("xxxxx@local.ie",), ()),
    ("qmail_01.txt", ("userx@example.de",), ()),
    ("yahoo_06.txt", ("usera@example.com", "userx@example.com", "usery@example.com", "userz@example.com"), ()),
    ("dsn_05.txt", (), ("userx@example.cz",)),  # "message delayed": a soft bounce
    ("simple_03.txt", (), ("userx@example.za",)),
])
def test_a_bounce_names_its_failed_and_delayed_recipients(name, failed, delayed):
    event = parsed_raw((flufl_bounce_corpus() / name).read_bytes())
    assert event.payload.classification == "bounce"
    assert (event.payload.bounced_recipients, event.payload.delayed_recipients) == (failed, delayed)
    assert event.contact.email == (failed or delayed)[0]


@pytest.mark.parametrize("name", sorted(FLUFL_NOT_BOUNCES))
def test_mail_of_the_corpus_that_is_no_bounce_is_not_called_one(name):
    assert parsed_raw((flufl_bounce_corpus() / name).read_bytes()).payload.classification != "bounce"


def test_a_customer_quoting_a_delivery_failure_is_still_a_customer():
    raw = (
        "From: Erika <erika@example.org>\r\nSubject: Ihre Mail kam zurück\r\n\r\n"
        "Hallo, ich bekam das hier:\r\n\r\n"
        "   ----- The following addresses had permanent fatal errors -----\r\n<erika@example.org>\r\n"
        "   (reason: 550 5.1.1 User unknown)\r\n"
    ).encode()
    assert parsed_raw(raw).payload.classification == "normal"
