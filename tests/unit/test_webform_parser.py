"""Web form submissions: validation naming every bad field, consent, topics, honeypot,
`_next` redirects, origins and the per-IP rate limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.problems import InvalidPayload
from services.ingest.webforms.guards import RateLimiter, origin_allowed, request_origin
from services.ingest.webforms.parse import is_spam, parse_webform, redirect_target
from shared.config import FormWebhook
from tests.fixtures import form, json_fixture

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
CONTACT = FormWebhook(required=["email", "message"], topic="contact", consent_field="consent",
                      allowed_origins=["https://shop.example"])


def parse_one(fields, config=CONTACT, form_id="contact"):
    [event] = parse_webform(form_id, fields, config, NOW, "DE", "https://shop.example")
    return event


def test_a_plain_html_form_submission_becomes_an_event_with_normalised_contact():
    event = parse_one(form("webforms/contact.form"))
    assert event.type == "webform.submitted"
    assert event.contact.email == "erika.muster@example.org"
    assert event.contact.phone == "+49301234567"
    assert event.payload.name == "Erika Muster"
    assert event.payload.topic == "contact"
    assert event.payload.consent is True
    assert event.payload.fields == {"order": "A-1001", "interests": "shoes, bags"}
    assert event.payload.origin == "https://shop.example"
    assert event.source == "webform:contact"


def test_a_submitted_topic_overrides_the_forms_default():
    event = parse_one(json_fixture("webforms/complaint.json"))
    assert event.payload.topic == "complaint"
    assert event.payload.consent is False  # the form asks for consent; none was given


def test_every_bad_field_is_listed():
    with pytest.raises(InvalidPayload) as caught:
        parse_webform("contact", {"email": "not-an-address", "phone": "12", "topic": "Bad Topic!"},
                      CONTACT, NOW, "DE")
    assert caught.value.problems == [
        "message: required",
        "email: not an email address: 'not-an-address'",
        "phone: not a phone number: '12' (write it with the country code, e.g. +49 30 1234567)",
        "topic: must be a short lower-case word such as contact or complaint, got 'bad topic!'",
    ]


def test_blank_required_fields_count_as_missing():
    with pytest.raises(InvalidPayload) as caught:
        parse_webform("contact", {"email": "  ", "message": ""}, CONTACT, NOW, "DE")
    assert caught.value.problems == ["email: required", "message: required"]


def test_the_same_submission_twice_is_one_event():
    assert parse_one(form("webforms/contact.form")).event_id == parse_one(form("webforms/contact.form")).event_id
    changed = {**form("webforms/contact.form"), "message": "another text"}
    assert parse_one(changed).event_id != parse_one(form("webforms/contact.form")).event_id


def test_the_same_text_sent_again_another_day_is_a_new_submission():
    fields = form("webforms/contact.form")
    [today] = parse_webform("contact", fields, CONTACT, NOW, "DE")
    [later_today] = parse_webform("contact", fields, CONTACT, NOW.replace(hour=18), "DE")
    [next_week] = parse_webform("contact", fields, CONTACT, NOW.replace(day=9), "DE")
    assert today.event_id == later_today.event_id != next_week.event_id
    assert today.payload.submission_id == next_week.payload.submission_id


def test_a_form_without_consent_field_records_no_consent():
    event = parse_one({"email": "a@example.org", "message": "hi"}, FormWebhook())
    assert event.payload.consent is None


def test_honeypot_filled_is_spam_empty_is_not():
    assert not is_spam(form("webforms/contact.form"), CONTACT)
    assert is_spam({**form("webforms/contact.form"), "website": "http://spam.example"}, CONTACT)
    assert not is_spam({"website": "x"}, FormWebhook(honeypot=None))


@pytest.mark.parametrize(("target", "allowed"), [
    ("/thanks", True), ("https://shop.example/thanks?x=1", True),
    ("//evil.example/x", False), ("https://evil.example/thanks", False), ("javascript:alert(1)", False),
])
def test_next_redirects_only_to_the_site_itself_or_allowed_origins(target, allowed):
    if allowed:
        assert redirect_target({"_next": target}, CONTACT) == target
    else:
        with pytest.raises(InvalidPayload, match="_next: must be a path"):
            redirect_target({"_next": target}, CONTACT)


def test_origin_comes_from_the_origin_header_else_the_referer():
    assert request_origin("https://shop.example", None) == "https://shop.example"
    assert request_origin(None, "https://shop.example/contact?x=1") == "https://shop.example"
    assert request_origin("null", None) is None


def test_only_allowed_origins_may_post_when_some_are_configured():
    assert origin_allowed("https://shop.example", CONTACT)
    assert not origin_allowed("https://evil.example", CONTACT)
    assert not origin_allowed(None, CONTACT)
    assert origin_allowed(None, FormWebhook())


def test_rate_limit_counts_per_form_and_address_in_a_sliding_minute():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.allow("contact", "10.0.0.1", 2) for _ in range(2)] == [None, None]
    assert limiter.allow("contact", "10.0.0.1", 2) == 60.0
    assert limiter.allow("contact", "10.0.0.2", 2) is None
    assert limiter.allow("other", "10.0.0.1", 2) is None
    now[0] = 30.0
    assert limiter.allow("contact", "10.0.0.1", 2) == 30.0
    now[0] = 60.0
    assert limiter.allow("contact", "10.0.0.1", 2) is None
    assert limiter.allow("contact", "10.0.0.1", 0) is None  # 0: unlimited
