"""Clean text at the edge: one function decides what a text field may hold, and every event is
built from its output, whoever builds it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.codec import decode, encode
from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.text import LIMITS, clean, clean_text
from events.webform import WebformPayload, WebformSubmitted
from services.ingest.telephony.cti import parse_cti
from services.ingest.problems import InvalidPayload
from services.ingest.webforms.parse import parse_webform
from shared.config import FormWebhook

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def webform(**payload) -> WebformSubmitted:
    return WebformSubmitted(
        event_id=event_id_for("webform.submitted", "test"), occurred_at=T0, recorded_at=T0, source="forms",
        payload=WebformPayload(form_id="contact", submission_id="s-1", **payload),
    )


def test_nul_and_other_control_characters_are_removed_but_tab_and_newline_stay_in_a_body():
    assert clean_text("a\x00b\x07c\x1b[31md\x7f\x85e\tf\ng", "body") == "abc[31mde\tf\ng"


def test_crlf_and_lone_cr_become_newlines_in_a_body():
    assert clean_text("one\r\ntwo\rthree", "body") == "one\ntwo\nthree"


def test_a_line_break_in_a_single_line_field_becomes_a_space():
    assert clean_text("Erika\r\nBcc: everyone@example.org", "name") == "Erika Bcc: everyone@example.org"
    assert clean_text("Re:\tOrder\n 42", "subject") == "Re: Order  42"


def test_lone_surrogates_are_removed():
    assert clean_text("ok\ud800 \udcff!", "line") == "ok !"
    assert clean_text("\U0001F600", "line") == "\U0001F600"  # a real astral character stays


def test_bidi_overrides_are_removed_from_names_and_kept_in_bodies():
    name = clean("invoice\u202efdp.exe", "name")
    assert name.text == "invoicefdp.exe" and name.bidi_removed
    assert clean_text("\u2067שלום\u2069", "body") == "\u2067שלום\u2069"


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_each_kind_is_cut_at_its_limit_and_the_cut_is_reported(kind):
    cut = clean("x" * (LIMITS[kind] + 5), kind)
    assert len(cut.text) == LIMITS[kind] and cut.truncated
    assert not clean("x" * LIMITS[kind], kind).truncated


def test_an_address_is_capped_at_320_characters():
    assert LIMITS["address"] == 320


def test_clean_text_is_returned_as_it_is():
    value = "Grüße aus Köln – ok"
    assert clean(value, "subject").text is value


@given(st.text(), st.sampled_from(sorted(LIMITS)))
def test_cleaning_is_idempotent_and_always_encodable(value, kind):
    once = clean_text(value, kind)
    assert clean_text(once, kind) == once
    once.encode("utf-8")  # no lone surrogates left
    assert "\x00" not in once and len(once) <= LIMITS[kind]


def test_an_event_is_built_from_clean_text_and_records_what_was_cut():
    event = webform(name="Eve\u202e\nX", message="m" * (LIMITS["body"] + 1), fields={"no\x00te": "a\x00b"})
    assert event.payload.name == "Eve X"
    assert event.payload.fields == {"note": "ab"}
    assert event.truncated == ("payload.message",)
    assert event.bidi_removed == ("payload.name",)


def test_text_in_the_envelope_is_cleaned_too():
    event = WebformSubmitted(
        event_id=event_id_for("webform.submitted", "env"), occurred_at=T0, recorded_at=T0, source="forms",
        customer_id="c-1\x00\ud800", contact=ContactIdentifiers(customer_ref="K\x00-7"),
        payload=WebformPayload(form_id="contact", submission_id="s-2"),
    )
    assert event.customer_id == "c-1" and event.contact.customer_ref == "K-7"
    assert orjson.loads(encode(event))["customer_id"] == "c-1"


def test_an_event_read_back_from_the_log_is_not_changed():
    event = webform(message="x" * (LIMITS["body"] + 10))
    assert decode(encode(event)) == event


def test_a_value_that_cleaning_empties_fails_the_field_check_by_name():
    with pytest.raises(InvalidPayload, match="call_id"):
        parse_cti({"event": "newCall", "callId": "\x00\x01", "direction": "in", "from": "4915112345678"}, T0)


def test_a_webform_adapter_event_carries_clean_text():
    fields = {"email": "kunde@example.org", "name": "Kunde\x00\r\nAdmin", "message": "Hallo\r\nWelt\x00",
              "colour\x00": "blu\ud800e"}
    [event] = parse_webform("contact", fields, FormWebhook(required=["email"]), T0, None, None)
    assert event.payload.name == "Kunde Admin"
    assert event.payload.message == "Hallo\nWelt"
    assert event.payload.fields == {"colour": "blue"}


def test_text_inside_lists_of_names_and_lists_of_models_is_cleaned_where_it_sits():
    from events.email import EmailPayload, EmailReceived, MailboxPosition
    from events.envelope import Address

    event = EmailReceived(
        event_id=event_id_for("email.received", "lists"), occurred_at=T0, recorded_at=T0, source="imap:test",
        payload=EmailPayload(
            position=MailboxPosition(mailbox="m", folder="INBOX", uidvalidity=1, uid=1),
            thread_key="t", content_hash="0" * 64,
            to=(Address(email="a@example.org", name="Anna"), Address(email="b@example.org", name="B\u202eob\x00")),
            references=("<1@example.org>", "<2@exa\x00mple.org>", "<3@example.org>"),
        ),
    )
    assert [a.name for a in event.payload.to] == ["Anna", "Bob"]
    assert event.payload.references == ("<1@example.org>", "<2@example.org>", "<3@example.org>")
    assert event.bidi_removed == ("payload.to.1.name",)
