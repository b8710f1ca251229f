"""Consent fields of web forms: a yes records `consent.given` with the form's consent text
version, an explicit no withdraws only where the form says it may, silence records nothing,
and anything else is a bad field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.problems import InvalidPayload
from services.ingest.webforms.parse import parse_webform
from shared.config import FileConfig, FormWebhook

NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
NEWSLETTER = FormWebhook(required=["email"], consent={"marketing": "newsletter_optin", "contact": "call_me"},
                         consent_text_version="2026-01", consent_withdrawable=["marketing"])


def parse(fields, config=NEWSLETTER, at=NOW):
    return parse_webform("newsletter", fields, config, at, "DE")


def test_a_ticked_consent_box_records_consent_given_with_the_text_version():
    submission, consent = parse({"email": "Erika@Example.org", "newsletter_optin": "on"})
    assert submission.type == "webform.submitted"
    assert consent.type == "consent.given"
    assert consent.payload.purpose == "marketing"
    assert consent.contact.email == "erika@example.org"
    source = consent.payload.source
    assert (source.kind, source.form_id, source.field, source.text_version) == (
        "webform", "newsletter", "newsletter_optin", "2026-01")
    assert source.submission_id == submission.payload.submission_id
    assert consent.causation_id == str(submission.event_id)
    assert consent.occurred_at == NOW


def test_each_purpose_with_a_yes_gets_its_own_event():
    events = parse({"email": "erika@example.org", "newsletter_optin": "yes", "call_me": "true"})
    assert sorted((e.type, e.payload.purpose) for e in events[1:]) == [
        ("consent.given", "contact"), ("consent.given", "marketing")]


def test_an_unticked_box_records_nothing():
    assert [e.type for e in parse({"email": "erika@example.org"})] == ["webform.submitted"]
    assert [e.type for e in parse({"email": "erika@example.org", "newsletter_optin": ""})] == ["webform.submitted"]


def test_an_explicit_no_withdraws_a_withdrawable_purpose():
    _, withdrawal = parse({"email": "erika@example.org", "newsletter_optin": "no"})
    assert withdrawal.type == "consent.withdrawn"
    assert withdrawal.payload.purpose == "marketing"


def test_an_explicit_no_on_a_purpose_that_is_not_withdrawable_records_nothing():
    assert [e.type for e in parse({"email": "erika@example.org", "call_me": "false"})] == ["webform.submitted"]


def test_a_hidden_no_before_a_ticked_checkbox_counts_as_yes():
    _, consent = parse({"email": "erika@example.org", "newsletter_optin": ["no", "on"]})
    assert consent.type == "consent.given"


def test_an_unrecognised_consent_value_is_a_bad_field():
    with pytest.raises(InvalidPayload, match="newsletter_optin: a consent field takes yes or no"):
        parse({"email": "erika@example.org", "newsletter_optin": "maybe"})


def test_consent_without_an_address_or_number_is_a_bad_field():
    config = NEWSLETTER.model_copy(update={"required": []})
    with pytest.raises(InvalidPayload, match="newsletter_optin: consent needs the email or phone"):
        parse({"message": "hi", "newsletter_optin": "on"}, config)


def test_consent_fields_are_not_repeated_among_the_forms_other_fields():
    submission, _ = parse({"email": "erika@example.org", "newsletter_optin": "on", "colour": "blue"})
    assert submission.payload.fields == {"colour": "blue"}


def test_a_resubmission_gives_the_same_consent_event_id_and_another_day_a_new_one():
    fields = {"email": "erika@example.org", "newsletter_optin": "on"}
    assert parse(fields)[1].event_id == parse(fields, at=NOW + timedelta(minutes=5))[1].event_id
    assert parse(fields)[1].event_id != parse(fields, at=NOW + timedelta(days=1))[1].event_id


def test_a_form_without_consent_settings_emits_the_submission_alone():
    plain = FormWebhook(required=["email"])
    assert len(parse_webform("contact", {"email": "erika@example.org", "newsletter_optin": "on"}, plain, NOW)) == 1


def test_consent_settings_need_a_text_version():
    with pytest.raises(ValueError, match="consent_text_version: required"):
        FormWebhook(consent={"marketing": "optin"})


def test_a_form_may_only_name_configured_purposes():
    with pytest.raises(ValueError, match=r"webhooks.forms.shop.consent: \['profiling'\] not among consent.purposes"):
        FileConfig.model_validate({"webhooks": {"forms": {"shop": {
            "consent": {"profiling": "p"}, "consent_text_version": "1"}}}})


def test_purposes_default_to_contact_and_marketing():
    assert FileConfig().consent.purposes == ["contact", "marketing"]
    assert FileConfig().consent.notifier_purpose == "contact"
