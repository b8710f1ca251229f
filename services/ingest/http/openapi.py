"""OpenAPI descriptions of the webhook bodies. The routes read raw bytes (signatures are
over the exact body), so the request bodies are documented here rather than inferred."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "detail"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    }}},
}

WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "credentials missing", **_ERROR},
    403: {"description": "credentials wrong", **_ERROR},
    404: {"description": "webhook not configured", **_ERROR},
    413: {"description": "body too large", **_ERROR},
    415: {"description": "wrong Content-Type", **_ERROR},
    422: {"description": "malformed body; the detail names every bad field", **_ERROR},
    503: {"description": "Kafka did not acknowledge; retry after Retry-After seconds", **_ERROR},
}

_CTI_FIELDS = {
    "type": "object",
    "required": ["event", "callId", "direction"],
    "properties": {
        "event": {"type": "string", "enum": ["newCall", "answer", "hangup"]},
        "callId": {"type": "string"}, "origCallId": {"type": "string"},
        "from": {"type": "string", "examples": ["4915112345678", "anonymous"]}, "to": {"type": "string"},
        "direction": {"type": "string", "enum": ["in", "out"]},
        "user": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "queue": {"type": "string"}, "answeringNumber": {"type": "string"}, "diversion": {"type": "string"},
        "cause": {"type": "string", "enum": ["normalClearing", "busy", "cancel", "noAnswer", "congestion",
                                             "notFound", "forwarded"]},
    },
}
FORM_OR_JSON_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _CTI_FIELDS},
    "application/json": {"schema": _CTI_FIELDS},
}}}

_TWILIO_FIELDS = {
    "type": "object",
    "required": ["CallSid", "CallStatus"],
    "properties": {name: {"type": "string"} for name in (
        "CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "CallDuration", "Timestamp",
        "SequenceNumber", "CallbackSource", "ParentCallSid", "ForwardedFrom", "AnsweredBy", "SipResponseCode",
    )},
}
TWILIO_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _TWILIO_FIELDS},
    "application/json": {"schema": _TWILIO_FIELDS},
}}}

_FORM_FIELDS = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in (
        "name", "email", "phone", "subject", "message", "topic", "_next")},
    "additionalProperties": {"type": "string"},
}
WEBFORM_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _FORM_FIELDS},
    "application/json": {"schema": _FORM_FIELDS},
}}}

SHIPPING_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object",
    "description": "aftership: AfterShip webhook; easypost: EasyPost Event; generic: the fields below",
    "properties": {name: {"type": "string"} for name in (
        "tracking_number", "carrier", "status", "occurred_at", "order_ref", "customer_ref", "email", "event_id")},
}}}}}
