"""AfterShip tracking webhooks → `shipment.status_changed`.

AfterShip posts JSON: `event` (tracking_update for status changes), `event_id` (a UUID per
webhook event, kept as the event's natural key so redeliveries deduplicate), `ts` (unix
seconds) and `msg`, the tracking with its `tag` (Pending, InfoReceived, InTransit,
OutForDelivery, AttemptFail, Delivered, AvailableForPickup, Exception, Expired), `subtag`
such as Exception_011, `slug` (carrier), order and customer details and `checkpoints`.
The `aftership-hmac-sha256` header is the base64 HMAC-SHA256 of the raw body, keyed with the
webhook secret."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from events.envelope import Event
from events.shipment import ShipmentStatus
from services.ingest.problems import FieldReader, InvalidPayload
from services.ingest.shipping.event import ShipmentUpdate, aware_datetime, hmac_sha256, shipment_event
from shared.digests import same_secret

PROVIDER = "aftership"
SIGNATURE_HEADER = "aftership-hmac-sha256"
STATUS_EVENTS = ("tracking_update",)

TAG_STATUS: dict[str, ShipmentStatus] = {
    "Pending": "label_created",
    "InfoReceived": "label_created",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AttemptFail": "failed_attempt",
    "Delivered": "delivered",
    "AvailableForPickup": "available_for_pickup",
    "Exception": "exception",
    "Expired": "expired",
}
# on its way back to the sender / back at the sender
RETURN_SUBTAGS = ("Exception_010", "Exception_011")


def verify_aftership(secret: str, signature: str | None, body: bytes) -> bool:
    if not signature:
        return False
    expected = base64.b64encode(hmac_sha256(secret.encode(), body)).decode()
    return same_secret(expected, signature.strip())


def parse_aftership(payload: Mapping[str, Any], received_at: datetime) -> list[Event]:
    """One webhook → one status event; other webhook events (e.g. edd_revise) → none."""
    reader = FieldReader(payload)
    kind = reader.text("event", required=True)
    event_id = reader.text("event_id", required=True)
    msg = payload.get("msg")
    if not isinstance(msg, dict):
        reader.problem("msg: required, the tracking object")
        reader.raise_if_any()
    if kind not in STATUS_EVENTS:
        reader.raise_if_any()
        return []
    tracking = FieldReader(msg)
    tracking_number = tracking.text("tracking_number", required=True)
    tag = tracking.text("tag", required=True)
    if tag is not None and tag not in TAG_STATUS:
        tracking.problem(f"tag: must be one of {', '.join(TAG_STATUS)}, got {tag!r}")
    subtag = tracking.text("subtag")
    checkpoint = _last_checkpoint(msg)
    problems = reader.problems + [f"msg.{p}" for p in tracking.problems]
    if problems:
        raise InvalidPayload(problems)
    assert tracking_number is not None and tag is not None
    status = "returned" if subtag in RETURN_SUBTAGS else TAG_STATUS[tag]
    update = ShipmentUpdate(
        provider=PROVIDER,
        provider_event_id=event_id,
        tracking_number=tracking_number,
        status=status,
        occurred_at=aware_datetime(checkpoint.get("checkpoint_time")) or aware_datetime(payload.get("ts"))
        or aware_datetime(msg.get("updated_at")) or received_at,
        carrier=tracking.text("slug"),
        provider_status=tag,
        provider_substatus=subtag,
        message=_text(checkpoint.get("message")) or tracking.text("subtag_message"),
        location=_text(checkpoint.get("location")) or _text(checkpoint.get("city")),
        estimated_delivery=aware_datetime(msg.get("expected_delivery")),
        order_ref=tracking.text("order_number", "order_id"),
        customer_ref=_custom_field(msg, "customer_ref"),
        email=_first_email(msg),
    )
    return [shipment_event(update, received_at)]


def _last_checkpoint(msg: Mapping[str, Any]) -> Mapping[str, Any]:
    checkpoints = msg.get("checkpoints")
    if isinstance(checkpoints, list) and checkpoints and isinstance(checkpoints[-1], dict):
        return checkpoints[-1]
    return {}


def _custom_field(msg: Mapping[str, Any], name: str) -> str | None:
    custom = msg.get("custom_fields")
    return _text(custom.get(name)) if isinstance(custom, dict) else None


def _first_email(msg: Mapping[str, Any]) -> str | None:
    emails = msg.get("emails")
    if isinstance(emails, list) and emails:
        return _text(emails[0])
    customers = msg.get("customers")
    if isinstance(customers, list):
        for customer in customers:
            if isinstance(customer, dict) and _text(customer.get("email")):
                return _text(customer.get("email"))
    return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
