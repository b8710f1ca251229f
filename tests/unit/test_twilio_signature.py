"""X-Twilio-Signature, checked exactly as Twilio computes it, against Twilio's published
examples (auth token 12345)."""

from __future__ import annotations

import hashlib

from services.ingest.telephony.signatures import twilio_signature, twilio_url_variants, verify_twilio

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234",
          "From": "+14158675310", "To": "+18005551212"}


def test_twilio_documented_example_signature():
    assert twilio_signature(TOKEN, URL, PARAMS.items()) == "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_second_documented_example_signature():
    params = {**PARAMS, "Caller": "+14158675309", "From": "+14158675309"}
    assert verify_twilio(TOKEN, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", URL, params.items())


def test_parameter_order_does_not_matter_but_every_value_does():
    shuffled = list(reversed(list(PARAMS.items())))
    assert verify_twilio(TOKEN, "GvWf1cFY/Q7PnoempGyD5oXAezc=", URL, shuffled)
    assert not verify_twilio(TOKEN, "GvWf1cFY/Q7PnoempGyD5oXAezc=", URL, [*shuffled, ("Extra", "1")])
    assert not verify_twilio("54321", "GvWf1cFY/Q7PnoempGyD5oXAezc=", URL, shuffled)


def test_the_url_may_be_signed_with_or_without_the_default_port():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert verify_twilio(TOKEN, twilio_signature(TOKEN, with_port, PARAMS.items()), URL, PARAMS.items())
    assert verify_twilio(TOKEN, twilio_signature(TOKEN, URL, PARAMS.items()), with_port, PARAMS.items())


def test_url_variants_add_and_remove_the_port():
    assert twilio_url_variants("http://hub.example.com/x?y=1") == [
        "http://hub.example.com/x?y=1", "http://hub.example.com:80/x?y=1"]
    assert twilio_url_variants("https://hub.example.com:8443/x") == ["https://hub.example.com:8443/x", "https://hub.example.com/x"]


def test_a_different_url_fails():
    signature = twilio_signature(TOKEN, URL, PARAMS.items())
    assert not verify_twilio(TOKEN, signature, "http://10.0.0.5:8080/myapp.php?foo=1&bar=2", PARAMS.items())


def test_json_bodies_are_signed_by_url_and_body_hash():
    # the body and its bodySHA256 from Twilio's documentation of JSON webhook validation
    body = b'{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}'
    url = "https://example.com/myapp?bodySHA256=5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9"
    assert hashlib.sha256(body).hexdigest() in url
    signature = twilio_signature(TOKEN, url)
    assert verify_twilio(TOKEN, signature, url, [], body)
    assert not verify_twilio(TOKEN, signature, url, [], body.replace(b"CA1", b"CA2"))


def test_missing_signature_is_invalid():
    assert not verify_twilio(TOKEN, None, URL, PARAMS.items())
    assert not verify_twilio(TOKEN, "", URL, PARAMS.items())
