"""The ingest routes: authenticate first, 4xx naming the problem with nothing produced,
200 only once the publisher acknowledged, 503 with Retry-After when it cannot."""

from __future__ import annotations

import hashlib
import hmac
import base64

import orjson
import pytest

from services.ingest.shipping.easypost import easypost_signature
from services.ingest.telephony.signatures import twilio_signature
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import InMemoryPublisher
from tests.fixtures import raw
from tests.unit.webhook_app import (
    CTI_TOKEN, FORM_SECRET, PUBLIC_BASE, SHIPPING_SECRETS, SIPGATE_PUBLIC_PEM, TWILIO_TOKEN, ingest, sipgate_sign,
)

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
CTI = "/webhooks/telephony/cti"
TWILIO = "/webhooks/telephony/twilio"


def assert_error(response, status: int, code: str, mentions: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert mentions in body["detail"]


# ---- CTI ----------------------------------------------------------------------------------


def test_cti_with_token_in_the_query_is_published_then_answered():
    app = ingest()
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    assert response.status_code == 200
    [(topic, key, event)] = app.publisher.published
    assert topic == "touchpoint.calls"
    assert event.type == "call.started" and key == "phone:+4915112345678"
    assert response.json() == {"status": "accepted", "event_ids": [str(event.event_id)]}


def test_cti_with_token_header_and_zammad_json():
    app = ingest()
    response = app.client.post(CTI, content=raw("zammad/hangup_noanswer.json"),
                               headers={**JSON, "X-Touchpoint-Token": CTI_TOKEN})
    assert response.status_code == 200
    assert app.publisher.events[0].payload.disposition == "missed"


def test_cti_without_token_is_401_and_nothing_is_produced():
    app = ingest()
    response = app.client.post(CTI, content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    assert_error(response, 401, "missing_token", "?token=")
    assert app.publisher.published == []


def test_cti_with_a_wrong_token_is_403():
    app = ingest()
    response = app.client.post(f"{CTI}?token=guess", content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    assert_error(response, 403, "bad_token")
    assert app.publisher.published == []


def test_cti_not_configured_is_404():
    app = ingest(cti=None)
    assert_error(app.client.post(CTI, content=b"", headers=FORM), 404, "not_configured", "[webhooks.cti]")


def test_sipgate_signature_required_accepts_only_a_signed_body():
    app = ingest(cti={"require_sipgate_signature": True, "sipgate_public_key": SIPGATE_PUBLIC_PEM, "token": CTI_TOKEN})
    body = raw("sipgate/hangup_normal.form")
    assert_error(app.client.post(f"{CTI}?token={CTI_TOKEN}", content=body, headers=FORM), 401, "missing_signature")
    forged = {**FORM, "X-Sipgate-Signature": sipgate_sign(body + b"&x=1")}
    assert_error(app.client.post(CTI, content=body, headers=forged), 403, "bad_signature")
    assert app.publisher.published == []
    signed = {**FORM, "X-Sipgate-Signature": sipgate_sign(body)}
    assert app.client.post(CTI, content=body, headers=signed).status_code == 200
    assert app.publisher.events[0].type == "call.ended"


def test_requiring_a_signature_without_a_key_is_a_configuration_error():
    from shared.config import ConfigError

    with pytest.raises(ConfigError, match="sipgate_public_key"):
        ingest(cti={"require_sipgate_signature": True, "token": CTI_TOKEN})


def test_cti_missing_fields_are_named_in_a_422():
    app = ingest()
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=b"event=newCall&from=4915112345678", headers=FORM)
    assert_error(response, 422, "invalid_payload", "callId: required; direction: required")
    assert app.publisher.published == []


def test_cti_wrong_content_type_is_415():
    app = ingest()
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=b"event=newCall", headers={"content-type": "text/plain"})
    assert_error(response, 415, "unsupported_media_type", "application/x-www-form-urlencoded")


def test_a_body_over_the_limit_is_413():
    app = ingest(max_body_bytes=64)
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    assert_error(response, 413, "body_too_large", "64 bytes")


def test_malformed_json_is_422_naming_the_problem():
    app = ingest()
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=b'{"event": ', headers=JSON)
    assert_error(response, 422, "malformed_body", "not valid JSON")
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=b'[1, 2]', headers=JSON)
    assert_error(response, 422, "malformed_body", "JSON object")


def test_kafka_unavailable_is_503_with_retry_after_and_never_200():
    publisher = InMemoryPublisher(fail_with=KafkaUnavailable("broker down at kafka-internal-7:9092"))
    app = ingest(publisher)
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    assert_error(response, 503, "kafka_unavailable", "Kafka is unavailable")
    assert "retry" in response.json()["detail"]
    assert "kafka-internal-7" not in response.text  # the broker's error stays in the logs
    assert int(response.headers["retry-after"]) > 0
    assert publisher.published == []


def test_a_provider_retry_after_503_stores_the_same_event():
    publisher = InMemoryPublisher(fail_with=KafkaUnavailable("broker down"))
    app = ingest(publisher)
    body = raw("sipgate/answer.form")
    assert app.client.post(f"{CTI}?token={CTI_TOKEN}", content=body, headers=FORM).status_code == 503
    publisher.fail_with = None
    first = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=body, headers=FORM).json()
    again = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=body, headers=FORM).json()
    assert first["event_ids"] == again["event_ids"]


# ---- Twilio -------------------------------------------------------------------------------


def signed_twilio(body: bytes, url: str = f"{PUBLIC_BASE}{TWILIO}") -> dict[str, str]:
    from urllib.parse import parse_qsl

    return {**FORM, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, parse_qsl(body.decode(), keep_blank_values=True))}


def test_twilio_signed_for_the_public_url_is_accepted_behind_a_proxy():
    app = ingest()
    body = raw("twilio/status_completed.form")
    response = app.client.post(TWILIO, content=body, headers=signed_twilio(body))
    assert response.status_code == 200, response.text
    assert app.publisher.events[0].payload.duration_seconds == 184


def test_twilio_signed_with_the_explicit_default_port_is_accepted():
    app = ingest()
    body = raw("twilio/status_ringing.form")
    response = app.client.post(TWILIO, content=body, headers=signed_twilio(body, f"https://hub.example.com:443{TWILIO}"))
    assert response.status_code == 200


def test_twilio_signed_for_the_internal_url_is_refused():
    app = ingest()
    body = raw("twilio/status_ringing.form")
    response = app.client.post(TWILIO, content=body, headers=signed_twilio(body, f"http://testserver{TWILIO}"))
    assert_error(response, 403, "bad_signature", "public_base_url")
    assert app.publisher.published == []


def test_twilio_query_string_is_part_of_the_signed_url():
    app = ingest()
    body = raw("twilio/status_ringing.form")
    headers = signed_twilio(body, f"{PUBLIC_BASE}{TWILIO}?tenant=berlin")
    assert app.client.post(f"{TWILIO}?tenant=berlin", content=body, headers=headers).status_code == 200
    assert app.client.post(f"{TWILIO}?tenant=munich", content=body, headers=headers).status_code == 403


def test_twilio_without_signature_is_401():
    app = ingest()
    assert_error(app.client.post(TWILIO, content=raw("twilio/status_ringing.form"), headers=FORM), 401, "missing_signature")


def test_twilio_json_body_with_body_hash():
    app = ingest()
    body = orjson.dumps({"CallSid": "CA9", "CallStatus": "busy", "From": "+4915112345678", "To": "+4930555000100"})
    url = f"{PUBLIC_BASE}{TWILIO}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {**JSON, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url)}
    response = app.client.post(f"{TWILIO}?bodySHA256={hashlib.sha256(body).hexdigest()}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert app.publisher.events[0].payload.disposition == "busy"


def test_twilio_json_body_without_body_hash_is_refused():
    app = ingest()
    body = orjson.dumps({"CallSid": "CA9", "CallStatus": "busy"})
    headers = {**JSON, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, f"{PUBLIC_BASE}{TWILIO}")}
    assert_error(app.client.post(TWILIO, content=body, headers=headers), 403, "bad_signature", "bodySHA256")
    assert app.publisher.published == []


# ---- forms --------------------------------------------------------------------------------


def test_html_form_is_published_and_redirected_to_next():
    app = ingest()
    response = app.client.post("/webhooks/forms/contact", content=raw("webforms/contact.form"),
                               headers={**FORM, "Origin": "https://shop.example"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    [event] = app.publisher.events
    assert event.payload.origin == "https://shop.example" and event.payload.consent is True


def test_json_complaint_form():
    app = ingest()
    response = app.client.post("/webhooks/forms/contact", content=raw("webforms/complaint.json"),
                               headers={**JSON, "Origin": "https://shop.example"})
    assert response.status_code == 200
    assert app.publisher.events[0].payload.topic == "complaint"


def test_form_validation_lists_every_bad_field():
    app = ingest()
    response = app.client.post("/webhooks/forms/contact", content=b"email=nope&name=X",
                               headers={**FORM, "Origin": "https://shop.example"})
    assert_error(response, 422, "invalid_fields", "message: required; email: not an email address: 'nope'")
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert app.publisher.published == []


def test_unknown_form_is_404():
    assert_error(ingest().client.post("/webhooks/forms/nope", content=b"", headers=FORM), 404, "unknown_form")


def test_a_foreign_origin_may_not_post():
    app = ingest()
    response = app.client.post("/webhooks/forms/contact", content=raw("webforms/contact.form"),
                               headers={**FORM, "Origin": "https://evil.example"})
    assert_error(response, 403, "origin_not_allowed", "allowed_origins")
    assert app.publisher.published == []


def test_honeypot_submissions_look_accepted_but_store_nothing():
    app = ingest()
    body = raw("webforms/contact.form").replace(b"website=", b"website=http%3A%2F%2Fspam.example")
    response = app.client.post("/webhooks/forms/contact", content=body,
                               headers={**FORM, "Origin": "https://shop.example"}, follow_redirects=False)
    assert response.status_code == 303
    assert app.publisher.published == []


def test_rate_limit_per_address_answers_429_with_retry_after():
    app = ingest()
    headers = {**JSON, "Origin": "https://shop.example"}
    statuses = [app.client.post("/webhooks/forms/contact", content=raw("webforms/complaint.json"), headers=headers)
                for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert_error(statuses[-1], 429, "rate_limited", "3 submissions per minute")
    assert statuses[-1].headers["retry-after"] == "60"


def test_cors_preflight_for_allowed_and_foreign_origins():
    app = ingest()
    ok = app.client.options("/webhooks/forms/contact", headers={"Origin": "https://shop.example",
                                                                 "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in ok.headers["access-control-allow-methods"]
    foreign = app.client.options("/webhooks/forms/contact", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403


def test_a_form_with_a_secret_needs_a_signature_or_token():
    app = ingest()
    body = b'{"email": "partner@example.com"}'
    assert_error(app.client.post("/webhooks/forms/partner", content=body, headers=JSON), 401, "missing_signature")
    bad = {**JSON, "X-Touchpoint-Signature": "0" * 64}
    assert_error(app.client.post("/webhooks/forms/partner", content=body, headers=bad), 403, "bad_signature")
    signature = hmac.new(FORM_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert app.client.post("/webhooks/forms/partner", content=body,
                           headers={**JSON, "X-Touchpoint-Signature": signature}).status_code == 200
    assert app.client.post("/webhooks/forms/partner", content=body,
                           headers={**JSON, "X-Touchpoint-Token": FORM_SECRET}).status_code == 200


# ---- shipping -----------------------------------------------------------------------------


def aftership_headers(body: bytes, secret: str = SHIPPING_SECRETS["aftership"]) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {**JSON, "aftership-hmac-sha256": base64.b64encode(digest).decode()}


def test_aftership_signed_webhook_is_published_and_redelivery_keeps_its_id():
    app = ingest()
    body = raw("aftership/tracking_update_exception.json")
    first = app.client.post("/webhooks/shipping/aftership", content=body, headers=aftership_headers(body))
    again = app.client.post("/webhooks/shipping/aftership", content=body, headers=aftership_headers(body))
    assert first.status_code == again.status_code == 200
    assert first.json()["event_ids"] == again.json()["event_ids"]
    assert app.publisher.published[0][0] == "touchpoint.shipments"
    assert app.publisher.events[0].payload.status == "returned"


def test_aftership_bad_or_missing_signature():
    app = ingest()
    body = raw("aftership/tracking_update_exception.json")
    assert_error(app.client.post("/webhooks/shipping/aftership", content=body, headers=JSON), 401, "missing_signature",
                 "aftership-hmac-sha256")
    wrong = aftership_headers(body, "another-secret")
    assert_error(app.client.post("/webhooks/shipping/aftership", content=body, headers=wrong), 403, "bad_signature")
    assert app.publisher.published == []


def test_easypost_signed_webhook():
    app = ingest()
    body = raw("easypost/tracker_updated.json")
    headers = {**JSON, "X-Hmac-Signature": easypost_signature(SHIPPING_SECRETS["easypost"], body)}
    response = app.client.post("/webhooks/shipping/easypost", content=body, headers=headers)
    assert response.status_code == 200
    assert app.publisher.events[0].payload.status == "delivered"


def test_easypost_event_we_do_not_track_is_acknowledged_without_events():
    app = ingest()
    body = raw("easypost/batch_created.json")
    headers = {**JSON, "X-Hmac-Signature": easypost_signature(SHIPPING_SECRETS["easypost"], body)}
    response = app.client.post("/webhooks/shipping/easypost", content=body, headers=headers)
    assert response.json() == {"status": "ignored", "event_ids": []}
    assert app.publisher.published == []


def test_generic_shipping_with_invalid_fields_is_422_naming_them():
    app = ingest()
    body = b'{"status": "teleported"}'
    signature = hmac.new(SHIPPING_SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
    response = app.client.post("/webhooks/shipping/generic", content=body,
                               headers={**JSON, "X-Touchpoint-Signature": signature})
    assert_error(response, 422, "invalid_payload", "tracking_number: required; status: must be one of")


def test_shipping_json_only_after_authentication():
    app = ingest()
    body = b"tracking_number=1"
    signature = hmac.new(SHIPPING_SECRETS["generic"].encode(), body, hashlib.sha256).hexdigest()
    response = app.client.post("/webhooks/shipping/generic", content=body,
                               headers={**FORM, "X-Touchpoint-Signature": signature})
    assert_error(response, 415, "unsupported_media_type", "application/json")


def test_unknown_or_unconfigured_shipping_provider_is_404():
    assert_error(ingest().client.post("/webhooks/shipping/dhl", content=b"{}", headers=JSON), 404, "unknown_provider")
    assert_error(ingest(shipping={}).client.post("/webhooks/shipping/aftership", content=b"{}", headers=JSON),
                 404, "not_configured")


# ---- service routes -----------------------------------------------------------------------


def test_health_readiness_and_metrics():
    app = ingest()
    assert app.client.get("/healthz").json() == {"status": "ok"}
    assert app.client.get("/readyz").status_code == 200
    app.readiness.checks = {"kafka": "unreachable at 127.0.0.1:9092"}
    assert app.client.get("/readyz").status_code == 503
    app.client.post(f"{CTI}?token={CTI_TOKEN}", content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    app.client.post(CTI, content=raw("sipgate/newcall_inbound.form"), headers=FORM)
    metrics = app.client.get("/metrics").text
    assert 'touchpoint_webhooks_received_total{source="cti"}' in metrics
    assert 'touchpoint_webhook_last_accepted_timestamp_seconds{source="cti"}' in metrics
    assert 'touchpoint_webhook_errors_total{reason="missing_token",source="cti"}' in metrics
    assert "touchpoint_webhook_produce_seconds_bucket" in metrics


def test_openapi_documents_every_webhook():
    app = ingest()
    spec = app.client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/webhooks/telephony/cti", "/webhooks/telephony/twilio", "/webhooks/forms/contact", "/webhooks/forms/partner",
        "/webhooks/shipping/aftership", "/webhooks/shipping/easypost", "/webhooks/shipping/generic"}
    cti = spec["paths"]["/webhooks/telephony/cti"]["post"]
    assert "application/x-www-form-urlencoded" in cti["requestBody"]["content"]
    assert "503" in cti["responses"]
    assert app.client.get("/docs").status_code == 200


def test_openapi_describes_each_configured_form_with_its_fields_and_credentials():
    spec = ingest().client.get("/openapi.json").json()
    contact = spec["paths"]["/webhooks/forms/contact"]["post"]
    schema = contact["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["required"] == ["email", "message"]
    assert {"email", "message", "consent", "_next"} <= set(schema["properties"])
    assert "website" not in schema["properties"]  # the honeypot stays a secret from bots
    assert "security" not in contact  # public form
    partner = spec["paths"]["/webhooks/forms/partner"]["post"]
    assert partner["security"] == [{"formSignature": []}, {"formToken": []}]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["formSignature"] == {"type": "apiKey", "in": "header", "name": "X-Touchpoint-Signature",
                                        "description": "hex HMAC-SHA256 of the body with the form's secret"}


def test_openapi_describes_the_providers_native_payloads_and_signature_headers():
    spec = ingest().client.get("/openapi.json").json()
    paths, schemes = spec["paths"], spec["components"]["securitySchemes"]
    aftership = paths["/webhooks/shipping/aftership"]["post"]
    body = aftership["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["event", "event_id", "msg"] and "Delivered" in body["properties"]["msg"]["properties"]["tag"]["enum"]
    assert schemes[aftership["security"][0].popitem()[0]]["name"] == "aftership-hmac-sha256"
    easypost = paths["/webhooks/shipping/easypost"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "return_to_sender" in easypost["properties"]["result"]["properties"]["status"]["enum"]
    generic = paths["/webhooks/shipping/generic"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert generic["required"] == ["tracking_number", "status"]
    twilio = paths["/webhooks/telephony/twilio"]["post"]
    assert twilio["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["required"] == ["CallSid", "CallStatus"]
    assert schemes[twilio["security"][0].popitem()[0]]["name"] == "X-Twilio-Signature"
    cti = paths["/webhooks/telephony/cti"]["post"]
    assert cti["security"] == [{"ctiToken": []}, {"ctiTokenHeader": []}]
    assert set(cti["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}


def test_without_configured_forms_or_providers_the_document_keeps_the_templated_paths():
    from fastapi.testclient import TestClient

    from services.ingest.http.app import create_app
    from shared.config import Settings

    spec = TestClient(create_app(Settings(), InMemoryPublisher())).get("/openapi.json").json()
    assert {"/webhooks/forms/{form_id}", "/webhooks/shipping/{provider}"} <= set(spec["paths"])


def test_unknown_routes_answer_the_json_error_shape():
    assert_error(ingest().client.get("/nowhere"), 404, "not_found")


# ---- clean text at the edge ------------------------------------------------------------------


def test_a_json_form_with_nul_and_control_characters_is_stored_clean():
    app = ingest()
    body = (b'{"email": "kunde@example.org", "name": "Kunde\\u0000\\r\\nX", "message": "Hallo\\u0000 \\u0007Welt",'
            b' "note\\u0000": "\\u001b!"}')
    response = app.client.post("/webhooks/forms/contact", content=body, headers={**JSON, "Origin": "https://shop.example"})
    assert response.status_code == 200, response.text
    [event] = app.publisher.events
    assert (event.payload.name, event.payload.message, event.payload.fields) == ("Kunde X", "Hallo Welt", {"note": "!"})


def test_a_cti_call_id_of_control_characters_only_is_a_422_naming_it():
    app = ingest()
    response = app.client.post(f"{CTI}?token={CTI_TOKEN}", content=b"event=newCall&callId=%00%01&direction=in&from=4915112345678",
                               headers=FORM)
    assert_error(response, 422, "invalid_payload", "call_id")
