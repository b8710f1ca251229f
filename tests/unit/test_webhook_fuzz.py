"""Property-based fuzzing of every webhook route: whatever body and headers arrive, the
answer is never a 5xx; unauthenticated requests are always refused with a 4xx; and
nothing is produced unless the answer is a success."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.shipping.easypost import easypost_signature
from services.ingest.telephony.signatures import twilio_signature
from tests.unit.webhook_app import (
    CTI_TOKEN, PUBLIC_BASE, SHIPPING_SECRETS, SIPGATE_PUBLIC_PEM, TWILIO_TOKEN, ingest, sipgate_sign,
)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_text = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=60)
# what a hostile client can put in a header: any bytes but CR/LF, e.g. UTF-8 or Latin-1 text
header_values = st.one_of(
    header_text,
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=40)
    .map(lambda t: t.strip().encode("utf-8")),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"").strip()),
)
query_strings = st.one_of(
    st.just(""),
    st.dictionaries(st.sampled_from(["token", "bodySHA256", "x", "form", "ünï"]), st.text(max_size=20), max_size=3)
    .map(lambda d: "?" + urlencode(d)),
    st.text(max_size=30).map(lambda t: "?" + quote(t.encode("utf-8", "surrogatepass"), safe="=&")),
)
content_types = st.one_of(
    st.sampled_from([
        "application/x-www-form-urlencoded", "application/json", "application/json; charset=utf-8", "text/plain",
        "multipart/form-data; boundary=xyz", "", "application/xml", "APPLICATION/JSON",
    ]),
    header_text,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

CTI_KEYS = ["event", "callId", "call_id", "from", "to", "direction", "user", "user[]", "queue", "answeringNumber",
            "cause", "origCallId", "diversion"]
CTI_VALUES = ["newCall", "answer", "hangup", "dtmf", "in", "out", "anonymous", "4915112345678", "normalClearing",
              "busy", "0301234567", "+", "00", ""]
TWILIO_KEYS = ["CallSid", "CallStatus", "From", "To", "Direction", "CallDuration", "Timestamp", "SequenceNumber",
               "AnsweredBy", "SipResponseCode", "ParentCallSid", "ForwardedFrom"]
TWILIO_VALUES = ["CA1", "ringing", "in-progress", "completed", "busy", "no-answer", "outbound-dial", "client:anna",
                 "Mon, 02 Mar 2026 09:15:00 +0000", "Mon, 02 Mar 2026 09:15:00", "603", "-1", "9" * 30, ""]
SHIPPING_KEYS = ["event", "event_id", "msg", "ts", "id", "description", "result", "tracking_number", "tracking_code",
                 "status", "tag", "subtag", "occurred_at", "checkpoints", "tracking_details", "email", "slug"]
SHIPPING_VALUES = ["tracking_update", "tracker.updated", "Delivered", "Exception", "delivered", "in_transit",
                   "2026-03-02T10:00:00Z", "2026-03-02T10:00:00", "not a time", "x@example.org", ""]

CTI_REQUIRED = {"event": ["newCall", "answer", "hangup"], "callId": [], "direction": ["in", "out"]}
TWILIO_REQUIRED = {"CallSid": [], "CallStatus": ["queued", "ringing", "in-progress", "completed", "busy", "failed"]}
SHIPPING_REQUIRED = {"tracking_number": [], "tracking_code": [], "status": ["delivered", "in_transit", "unknown"],
                     "tag": ["Delivered", "Exception", "Pending"], "event": ["tracking_update"], "event_id": [],
                     "id": [], "description": ["tracker.updated"]}


def fields(keys: list[str], values: list[str]) -> st.SearchStrategy[dict]:
    value = st.one_of(st.sampled_from(values), st.text(max_size=20), json_values)
    return st.dictionaries(st.sampled_from(keys), value, max_size=len(keys))


def near_valid(required: dict[str, list[str]], keys: list[str], values: list[str]) -> st.SearchStrategy[dict]:
    """Bodies with the required fields mostly right, so fuzzing also reaches the parsers' depths."""
    value = st.one_of(st.sampled_from(values), st.text(max_size=20), json_values)
    fixed = {key: st.one_of(st.sampled_from(choices), st.text(min_size=1, max_size=12)) if choices
             else st.text(min_size=1, max_size=12) for key, choices in required.items()}
    optional = {key: value for key in keys if key not in required}
    return st.fixed_dictionaries(fixed, optional=optional)


def bodies(keys: list[str], values: list[str], required: dict[str, list[str]] | None = None) -> st.SearchStrategy[bytes]:
    good = near_valid(required or {}, keys, values)
    return st.one_of(
        good.map(lambda d: json.dumps(d).encode()),
        good.map(lambda d: {k: v for k, v in d.items() if isinstance(v, str)}).map(lambda d: urlencode(d).encode()),
        st.binary(max_size=200),
        fields(keys, values).map(lambda d: json.dumps(d).encode()),
        fields(keys, values).map(lambda d: {k: v for k, v in d.items() if isinstance(v, str)})
        .map(lambda d: urlencode(d).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(keys), st.dictionaries(st.sampled_from(keys), json_values, max_size=4))
        .map(lambda d: json.dumps(d).encode()),
    )


APP = ingest(forms={
    "contact": {"required": ["email", "message"], "consent_field": "consent", "rate_limit_per_minute": 0,
                "allowed_origins": ["https://shop.example"]},
    "partner": {"required": ["email"], "secret": "form-secret-0123"},
})


def post(path: str, body: bytes, headers: dict[str, str | bytes]):
    APP.publisher.published.clear()
    APP.client.cookies.clear()
    raw = [(name, value if isinstance(value, bytes) else value.encode("utf-8")) for name, value in headers.items()]
    return APP.client.post(path, content=body, headers=raw, follow_redirects=False)


def assert_safe(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "detail"} and body["detail"]
        assert APP.publisher.published == []


ROUTES = ["/webhooks/telephony/cti", "/webhooks/telephony/twilio", "/webhooks/forms/partner",
          "/webhooks/shipping/aftership", "/webhooks/shipping/easypost", "/webhooks/shipping/generic"]


@FUZZ
@given(route=st.sampled_from(ROUTES), body=bodies(CTI_KEYS + TWILIO_KEYS + SHIPPING_KEYS, CTI_VALUES),
       content_type=content_types, query=query_strings, junk=st.dictionaries(
           st.sampled_from(["X-Touchpoint-Token", "X-Twilio-Signature", "X-Sipgate-Signature", "X-Hmac-Signature",
                            "aftership-hmac-sha256", "X-Touchpoint-Signature", "Origin", "Referer",
                            "X-Request-ID", "X-Forwarded-For", "Content-Length"]), header_values, max_size=4))
def test_unauthenticated_requests_are_refused_with_4xx_and_produce_nothing(route, body, content_type, query, junk):
    if "token=" + CTI_TOKEN in query:
        return  # hypothesis guessed the token: authenticated, not this property
    response = post(route + query, body, {"content-type": content_type, **junk})
    assert 400 <= response.status_code < 500, response.text
    assert_safe(response)


@FUZZ
@given(route=st.sampled_from(ROUTES + ["/webhooks/forms/contact"]), query=query_strings,
       headers=st.dictionaries(st.sampled_from(["X-Touchpoint-Token", "X-Twilio-Signature", "X-Hmac-Signature",
                                                "aftership-hmac-sha256", "X-Touchpoint-Signature", "Origin",
                                                "Referer", "Content-Type", "X-Correlation-ID"]),
                               header_values, min_size=1, max_size=5))
def test_non_ascii_headers_and_query_strings_never_cause_a_5xx(route, query, headers):
    assert_safe(post(route + query, b"event=newCall&callId=1&direction=in", headers))


@FUZZ
@given(body=bodies(CTI_KEYS, CTI_VALUES, CTI_REQUIRED),
       content_type=st.one_of(st.sampled_from(["application/x-www-form-urlencoded", "application/json"]), content_types))
def test_authenticated_cti_bodies_never_cause_a_5xx(body, content_type):
    assert_safe(post(f"/webhooks/telephony/cti?token={CTI_TOKEN}", body, {"content-type": content_type}))


@FUZZ
@given(body=bodies(TWILIO_KEYS, TWILIO_VALUES, TWILIO_REQUIRED))
def test_signed_twilio_form_bodies_never_cause_a_5xx(body):
    from urllib.parse import parse_qsl

    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        params = []
    signature = twilio_signature(TWILIO_TOKEN, f"{PUBLIC_BASE}/webhooks/telephony/twilio", params)
    headers = {"content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    assert_safe(post("/webhooks/telephony/twilio", body, headers))


@FUZZ
@given(provider=st.sampled_from(["aftership", "easypost", "generic"]),
       body=bodies(SHIPPING_KEYS, SHIPPING_VALUES, SHIPPING_REQUIRED) | st.builds(
           lambda msg, result: json.dumps({"event": "tracking_update", "event_id": "e1", "id": "evt_1", "ts": 1772439302,
                                           "description": "tracker.updated", "msg": msg, "result": result}).encode(),
           near_valid(SHIPPING_REQUIRED, SHIPPING_KEYS, SHIPPING_VALUES),
           near_valid(SHIPPING_REQUIRED, SHIPPING_KEYS, SHIPPING_VALUES)),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]))
def test_signed_shipping_bodies_never_cause_a_5xx(provider, body, content_type):
    secret = SHIPPING_SECRETS[provider]
    digest = hmac.new(secret.encode(), body, hashlib.sha256)
    header = {
        "aftership": ("aftership-hmac-sha256", base64.b64encode(digest.digest()).decode()),
        "easypost": ("X-Hmac-Signature", easypost_signature(secret, body)),
        "generic": ("X-Touchpoint-Signature", digest.hexdigest()),
    }[provider]
    assert_safe(post(f"/webhooks/shipping/{provider}", body, {"content-type": content_type, header[0]: header[1]}))


@FUZZ
@given(body=bodies(["email", "phone", "name", "message", "subject", "topic", "_next", "website", "consent"],
                   ["a@example.org", "/thanks", "//evil", "complaint", "on", "+49 30 1234567", ""],
                   {"email": ["a@example.org", "B@Example.ORG"], "message": []}),
       content_type=st.one_of(st.sampled_from(["application/x-www-form-urlencoded", "application/json"]), content_types))
def test_public_form_bodies_never_cause_a_5xx(body, content_type):
    assert_safe(post("/webhooks/forms/contact", body, {"content-type": content_type, "Origin": "https://shop.example"}))


def test_the_sipgate_signature_route_with_fuzzed_signatures_is_never_5xx():
    app = ingest(cti={"require_sipgate_signature": True, "sipgate_public_key": SIPGATE_PUBLIC_PEM})
    body = b"event=newCall&callId=1&direction=in&from=4915112345678"
    for signature in ["", "=", "AAAA", sipgate_sign(b"other"), "x" * 400, sipgate_sign(body)[:-4]]:
        response = app.client.post("/webhooks/telephony/cti", content=body,
                                   headers={"content-type": "application/x-www-form-urlencoded",
                                            "X-Sipgate-Signature": signature})
        assert response.status_code in (401, 403)
    assert app.publisher.published == []
