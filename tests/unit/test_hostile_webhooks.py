"""Hostile webhook requests get a 4xx naming the problem, never a 5xx: signatures and tokens
with characters outside ASCII, JSON nested hundreds of levels deep, form fields that are
objects where text belongs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from services.ingest.telephony.signatures import twilio_signature
from tests.unit.webhook_app import (
    CTI_TOKEN, FORM_SECRET, PUBLIC_BASE, SHIPPING_SECRETS, SIPGATE_PUBLIC_PEM, TWILIO_TOKEN, ingest,
)

NON_ASCII = "sig-ünïcödé-€".encode()  # sent as raw header bytes, as a hostile client can
GENERIC_BODY = json.dumps({"tracking_number": "1Z", "status": "delivered"}).encode()


def signed_generic(body: bytes) -> dict[str, str]:
    digest = hmac.new(SHIPPING_SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "X-Touchpoint-Signature": digest}


@pytest.mark.parametrize(("path", "header", "content_type"), [
    ("/webhooks/shipping/aftership", "aftership-hmac-sha256", "application/json"),
    ("/webhooks/shipping/easypost", "X-Hmac-Signature", "application/json"),
    ("/webhooks/shipping/generic", "X-Touchpoint-Signature", "application/json"),
    ("/webhooks/telephony/twilio", "X-Twilio-Signature", "application/x-www-form-urlencoded"),
    ("/webhooks/telephony/cti", "X-Touchpoint-Token", "application/x-www-form-urlencoded"),
    ("/webhooks/forms/partner", "X-Touchpoint-Signature", "application/json"),
    ("/webhooks/forms/partner", "X-Touchpoint-Token", "application/json"),
])
def test_a_non_ascii_signature_or_token_is_refused_with_403(path, header, content_type):
    app = ingest()
    response = app.client.post(path, content=b"CallSid=CA1&CallStatus=ringing",
                               headers=[("content-type", content_type), (header, NON_ASCII)])
    assert response.status_code == 403, response.text
    assert app.publisher.published == []


def test_a_non_ascii_sipgate_signature_is_refused_with_403():
    app = ingest(cti={"require_sipgate_signature": True, "sipgate_public_key": SIPGATE_PUBLIC_PEM})
    response = app.client.post("/webhooks/telephony/cti", content=b"event=newCall&callId=1&direction=in",
                               headers=[("content-type", "application/x-www-form-urlencoded"),
                                        ("X-Sipgate-Signature", NON_ASCII)])
    assert response.status_code == 403, response.text


def test_a_non_ascii_cti_token_in_the_query_is_refused_with_403():
    app = ingest()
    response = app.client.post("/webhooks/telephony/cti?token=%C3%BC%E2%82%AC", content=b"event=newCall",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403, response.text


def test_a_twilio_json_body_hash_with_non_ascii_is_refused_with_403():
    app = ingest()
    url = f"{PUBLIC_BASE}/webhooks/telephony/twilio?bodySHA256=%C3%BC"
    response = app.client.post("/webhooks/telephony/twilio?bodySHA256=%C3%BC", content=b"{}",
                               headers={"content-type": "application/json",
                                        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url)})
    assert response.status_code == 403, response.text


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_public_form_field_nested_400_levels_deep_is_a_422_naming_the_field():
    app = ingest()
    body = json.dumps({"email": "a@example.org", "message": "hi", "_tracking": nested(400)}).encode()
    response = app.client.post("/webhooks/forms/contact", content=body,
                               headers={"content-type": "application/json", "Origin": "https://shop.example"})
    assert response.status_code == 422, response.text
    assert "_tracking" in response.json()["detail"]
    assert app.publisher.published == []


def test_a_form_field_that_is_an_object_is_a_422_naming_the_field():
    app = ingest()
    body = json.dumps({"email": "a@example.org", "message": "hi", "_meta": {"utm": "x"}}).encode()
    response = app.client.post("/webhooks/forms/contact", content=body,
                               headers={"content-type": "application/json", "Origin": "https://shop.example"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("_meta: must be text")


def test_a_signed_shipping_payload_nested_too_deep_is_a_422_naming_the_field():
    app = ingest()
    body = json.dumps({"tracking_number": "1Z", "status": "delivered", "location": nested(400)}).encode()
    response = app.client.post("/webhooks/shipping/generic", content=body, headers=signed_generic(body))
    assert response.status_code == 422, response.text
    assert "location" in response.json()["detail"]


def test_a_cti_json_body_nested_too_deep_is_a_422_naming_the_field():
    app = ingest()
    body = json.dumps({"event": "newCall", "callId": "1", "direction": "in", "user": [nested(300)]}).encode()
    response = app.client.post(f"/webhooks/telephony/cti?token={CTI_TOKEN}", content=body,
                               headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "user" in response.json()["detail"]


def test_a_signed_form_with_a_nested_field_is_a_422():
    app = ingest()
    body = json.dumps({"email": "a@example.org", "extra": nested(3)}).encode()
    digest = hmac.new(FORM_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = app.client.post("/webhooks/forms/partner", content=body,
                               headers={"content-type": "application/json", "X-Touchpoint-Signature": digest})
    assert response.status_code == 422, response.text
    assert "extra" in response.json()["detail"]


def test_aftership_native_depth_is_accepted():
    from tests.fixtures import raw

    app = ingest()
    body = raw("aftership/tracking_update_exception.json")
    digest = base64.b64encode(hmac.new(SHIPPING_SECRETS["aftership"].encode(), body, hashlib.sha256).digest()).decode()
    response = app.client.post("/webhooks/shipping/aftership", content=body,
                               headers={"content-type": "application/json", "aftership-hmac-sha256": digest})
    assert response.status_code == 200, response.text
