"""Touchpoint's own shipping format, for carriers and shop systems without a native adapter.

JSON: `tracking_number`, `status` (one of the normalised statuses), optional `carrier`,
`occurred_at` (ISO 8601 with zone), `order_ref`, `customer_ref`, `email`, `message`,
`location`, `estimated_delivery` and `event_id` (the sender's id for this update, used to
deduplicate; without one, the update's content is the key). Signed with
`X-Touchpoint-Signature`: the hex HMAC-SHA256 of the raw body (a `sha256=` prefix is allowed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, get_args

from events.envelope import Event
from events.shipment import ShipmentStatus
from services.ingest.problems import FieldReader
from services.ingest.shipping.event import ShipmentUpdate, aware_datetime, hmac_sha256, shipment_event
from shared.contacts import normalise_email
from shared.digests import same_secret

PROVIDER = "generic"
SIGNATURE_HEADER = "X-Touchpoint-Signature"
STATUSES: tuple[str, ...] = get_args(ShipmentStatus)


def generic_signature(secret: str, body: bytes) -> str:
    return hmac_sha256(secret.encode(), body).hex()


def verify_generic(secret: str, signature: str | None, body: bytes) -> bool:
    if not signature:
        return False
    given = signature.strip().removeprefix("sha256=").lower()
    return same_secret(generic_signature(secret, body), given)


def parse_generic(payload: Mapping[str, Any], received_at: datetime) -> list[Event]:
    reader = FieldReader(payload)
    tracking_number = reader.text("tracking_number", required=True)
    status = reader.text("status", required=True)
    if status is not None and status not in STATUSES:
        reader.problem(f"status: must be one of {', '.join(STATUSES)}, got {status!r}")
    occurred_at = _time(reader, "occurred_at") or received_at
    estimated = _time(reader, "estimated_delivery")
    email = reader.text("email")
    if email is not None and normalise_email(email) is None:
        reader.problem(f"email: not an email address: {email!r}")
    update_kwargs = {
        "carrier": reader.text("carrier"), "message": reader.text("message"), "location": reader.text("location"),
        "order_ref": reader.text("order_ref"), "customer_ref": reader.text("customer_ref"),
        "provider_event_id": reader.text("event_id"),
    }
    reader.raise_if_any()
    assert tracking_number is not None and status is not None
    update = ShipmentUpdate(
        provider=PROVIDER, tracking_number=tracking_number, status=status,  # type: ignore[arg-type]
        occurred_at=occurred_at, provider_status=status, estimated_delivery=estimated, email=email, **update_kwargs,
    )
    return [shipment_event(update, received_at)]


def _time(reader: FieldReader, name: str) -> datetime | None:
    raw = reader.text(name)
    if raw is None:
        return None
    parsed = aware_datetime(raw)
    if parsed is None:
        reader.problem(f"{name}: must be an ISO 8601 time with a zone, e.g. 2026-03-02T09:15:00+01:00, got {raw!r}")
    return parsed
