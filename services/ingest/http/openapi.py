"""OpenAPI descriptions of the webhook bodies. The routes read raw bytes (signatures are
over the exact body), so the request bodies are documented here rather than inferred."""

from __future__ import annotations

from typing import Any, get_args

from events.shipment import ShipmentStatus
from services.ingest.shipping import aftership, easypost

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

# ---- native provider payloads (what each provider really posts) -------------------------------

_TEXT = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}

AFTERSHIP_PAYLOAD: dict[str, Any] = {
    "type": "object",
    "description": "AfterShip tracking webhook",
    "required": ["event", "event_id", "msg"],
    "properties": {
        "event": {"type": "string", "enum": ["tracking_update", "edd_revise"]},
        "event_id": _TEXT,
        "is_tracking_first_tag": {"type": "boolean"},
        "ts": {"type": "integer", "description": "unix seconds"},
        "msg": {
            "type": "object",
            "required": ["tracking_number", "tag"],
            "properties": {
                "id": _TEXT, "tracking_number": _TEXT, "slug": _TEXT,
                "tag": {"type": "string", "enum": list(aftership.TAG_STATUS)},
                "subtag": {"type": "string", "examples": ["Exception_011", "Delivered_001"]},
                "subtag_message": _TEXT, "order_id": _TEXT, "order_number": _TEXT, "updated_at": _TIME,
                "expected_delivery": _TIME,
                "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
                "customers": {"type": "array", "items": {"type": "object", "properties": {"email": _TEXT,
                                                                                           "name": _TEXT}}},
                "custom_fields": {"type": "object", "additionalProperties": _TEXT},
                "checkpoints": {"type": "array", "items": {"type": "object", "properties": {
                    "checkpoint_time": _TIME, "message": _TEXT, "location": _TEXT, "city": _TEXT, "tag": _TEXT,
                    "subtag": _TEXT}}},
            },
        },
    },
}

EASYPOST_PAYLOAD: dict[str, Any] = {
    "type": "object",
    "description": "EasyPost Event",
    "required": ["id", "description"],
    "properties": {
        "id": {"type": "string", "examples": ["evt_1b2c3d"]},
        "object": {"type": "string", "enum": ["Event"]},
        "description": {"type": "string", "examples": ["tracker.updated", "tracker.created", "batch.created"]},
        "created_at": _TIME,
        "result": {
            "type": "object",
            "description": "the Tracker",
            "required": ["tracking_code", "status"],
            "properties": {
                "tracking_code": _TEXT, "carrier": _TEXT, "status_detail": _TEXT, "updated_at": _TIME,
                "est_delivery_date": _TIME,
                "status": {"type": "string", "enum": list(easypost.STATUS)},
                "tracking_details": {"type": "array", "items": {"type": "object", "properties": {
                    "datetime": _TIME, "message": _TEXT, "status": _TEXT,
                    "tracking_location": {"type": "object", "properties": {
                        "city": _TEXT, "state": _TEXT, "country": _TEXT}}}}},
            },
        },
    },
}

GENERIC_PAYLOAD: dict[str, Any] = {
    "type": "object",
    "description": "Touchpoint's own shipping format",
    "required": ["tracking_number", "status"],
    "properties": {
        "tracking_number": _TEXT,
        "status": {"type": "string", "enum": list(get_args(ShipmentStatus))},
        "carrier": _TEXT, "occurred_at": _TIME, "estimated_delivery": _TIME, "order_ref": _TEXT,
        "customer_ref": _TEXT, "email": {"type": "string", "format": "email"}, "message": _TEXT, "location": _TEXT,
        "event_id": _TEXT,
    },
}

SHIPPING_PAYLOADS: dict[str, dict[str, Any]] = {
    "aftership": AFTERSHIP_PAYLOAD, "easypost": EASYPOST_PAYLOAD, "generic": GENERIC_PAYLOAD,
}
