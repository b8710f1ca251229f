"""Urlencoded webhook bodies decode as the standard library decodes them, repeated names and
order kept, however often the same names and values come again."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.http.body import RECURRING_MAX_CHARS, form_fields, form_pairs

SIPGATE_NEW_CALL = (b"event=newCall&from=4915112345678&to=4930555000100&direction=in&callId=123456"
                    b"&user%5B%5D=Anna+Agent&user%5B%5D=J%C3%BCrgen+M%C3%BCller&queue=support&origCallId=")


def test_a_sipgate_push_decodes_with_its_repeated_users_in_order():
    assert form_fields(form_pairs(SIPGATE_NEW_CALL)) == {
        "event": "newCall", "from": "4915112345678", "to": "4930555000100", "direction": "in", "callId": "123456",
        "user": ["Anna Agent", "Jürgen Müller"], "queue": "support", "origCallId": "",
    }


def test_the_same_body_twice_decodes_the_same_twice():
    assert form_pairs(SIPGATE_NEW_CALL) == form_pairs(SIPGATE_NEW_CALL)


def test_short_and_long_values_are_unquoted_alike():
    word = "M%C3%BCller+%26+S%C3%B6hne"
    short, long = word, "+".join([word] * (RECURRING_MAX_CHARS // len(word) + 2))
    assert len(short) <= RECURRING_MAX_CHARS < len(long)
    pairs = form_pairs(f"a={short}&b={long}".encode())
    assert pairs == [("a", "Müller & Söhne"), ("b", " ".join(["Müller & Söhne"] * (RECURRING_MAX_CHARS // len(word) + 2)))]


def test_broken_percent_sequences_stay_as_sent():
    assert form_pairs(b"note=100%&x=%zz&y=%E2%82") == parse_qsl("note=100%&x=%zz&y=%E2%82", keep_blank_values=True)


texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(texts, texts), max_size=12))
def test_any_encoded_form_decodes_to_what_was_encoded(pairs):
    body = urlencode(pairs).encode()
    assert form_pairs(body) == pairs


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab=&%+2F5BC3xy ", max_size=120))
def test_any_body_decodes_as_the_standard_library_decodes_it(text):
    assert form_pairs(text.encode()) == parse_qsl(text, keep_blank_values=True)
