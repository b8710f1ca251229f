"""EasyPost tracker webhooks → `shipment.status_changed`.

EasyPost posts an Event object: `id` (evt_…, kept as the natural key so redeliveries
deduplicate), `description` (tracker.created / tracker.updated), `created_at`, and in
`result` the Tracker: `tracking_code`, `carrier`, `status` (unknown, pre_transit,
in_transit, out_for_delivery, delivered, available_for_pickup, return_to_sender, failure,
cancelled, error), `status_detail`, `est_delivery_date` and `tracking_details`.
With a webhook secret, `X-Hmac-Signature` is `hmac-sha256-hex=` + the hex HMAC-SHA256 of the
raw body, keyed with the NFKD-normalised secret."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from events.envelope import Event
from events.shipment import ShipmentStatus
from services.ingest.problems import FieldReader, InvalidPayload
from services.ingest.shipping.event import ShipmentUpdate, aware_datetime, hmac_sha256, shipment_event
from shared.digests import same_secret

PROVIDER = "easypost"
SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = ("tracker.created", "tracker.updated")

STATUS: dict[str, ShipmentStatus] = {
    "unknown": "unknown",
    "pre_transit": "label_created",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "available_for_pickup": "available_for_pickup",
    "return_to_sender": "returned",
    "failure": "exception",
    "cancelled": "exception",
    "error": "exception",
}


def easypost_signature(secret: str, body: bytes) -> str:
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac_sha256(key, body).hex()


def verify_easypost(secret: str, signature: str | None, body: bytes) -> bool:
    if not signature:
        return False
    return same_secret(easypost_signature(secret, body), signature.strip())


def parse_easypost(payload: Mapping[str, Any], received_at: datetime) -> list[Event]:
    """One tracker event → one status event; other EasyPost events (batches, refunds) → none."""
    reader = FieldReader(payload)
    event_id = reader.text("id", required=True)
    description = reader.text("description", required=True)
    result = payload.get("result")
    if description not in TRACKER_EVENTS:
        reader.raise_if_any()
        return []
    if not isinstance(result, dict):
        reader.problem("result: required, the Tracker object")
        reader.raise_if_any()
    tracker = FieldReader(result)
    tracking_code = tracker.text("tracking_code", required=True)
    status = tracker.text("status", required=True)
    if status is not None and status not in STATUS:
        tracker.problem(f"status: must be one of {', '.join(STATUS)}, got {status!r}")
    detail = _last_detail(result)
    problems = reader.problems + [f"result.{p}" for p in tracker.problems]
    if problems:
        raise InvalidPayload(problems)
    assert tracking_code is not None and status is not None
    update = ShipmentUpdate(
        provider=PROVIDER,
        provider_event_id=event_id,
        tracking_number=tracking_code,
        status=STATUS[status],
        occurred_at=aware_datetime(detail.get("datetime")) or aware_datetime(result.get("updated_at"))
        or aware_datetime(payload.get("created_at")) or received_at,
        carrier=tracker.text("carrier"),
        provider_status=status,
        provider_substatus=tracker.text("status_detail"),
        message=_text(detail.get("message")),
        location=_location(detail.get("tracking_location")),
        estimated_delivery=aware_datetime(result.get("est_delivery_date")),
    )
    return [shipment_event(update, received_at)]


def _last_detail(result: Mapping[str, Any]) -> Mapping[str, Any]:
    details = result.get("tracking_details")
    if isinstance(details, list) and details and isinstance(details[-1], dict):
        return details[-1]
    return {}


def _location(location: object) -> str | None:
    if not isinstance(location, dict):
        return None
    parts = [location.get(key) for key in ("city", "state", "country")]
    text = ", ".join(part for part in parts if isinstance(part, str) and part.strip())
    return text or None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
