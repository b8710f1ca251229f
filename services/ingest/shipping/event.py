"""Building `shipment.status_changed` from what a shipping provider told us, the same way
for every provider: identifiers normalised for linking to a customer (order reference,
customer reference, email, tracking number), times made timezone-aware, and the event id
derived from the provider's own event id (or, when it has none, from the update itself)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from events.envelope import ContactIdentifiers
from events.ids import event_id_for
from events.shipment import ShipmentPayload, ShipmentStatus, ShipmentStatusChanged
from services.ingest.problems import InvalidPayload
from shared.contacts import normalise_email


@dataclass(frozen=True)
class ShipmentUpdate:
    provider: str
    tracking_number: str
    status: ShipmentStatus
    occurred_at: datetime
    provider_event_id: str | None = None
    carrier: str | None = None
    provider_status: str | None = None
    provider_substatus: str | None = None
    message: str | None = None
    location: str | None = None
    estimated_delivery: datetime | None = None
    order_ref: str | None = None
    customer_ref: str | None = None
    email: str | None = None


def shipment_event(update: ShipmentUpdate, received_at: datetime) -> ShipmentStatusChanged:
    natural_key = (
        (update.provider, "event", update.provider_event_id) if update.provider_event_id
        else (update.provider, update.tracking_number, update.status, update.occurred_at.isoformat())
    )
    try:
        return ShipmentStatusChanged(
            event_id=event_id_for("shipment.status_changed", *natural_key),
            occurred_at=update.occurred_at,
            recorded_at=received_at,
            source=f"shipping:{update.provider}",
            contact=ContactIdentifiers(
                email=normalise_email(update.email), customer_ref=update.customer_ref,
                order_ref=update.order_ref, tracking_number=update.tracking_number,
            ),
            payload=ShipmentPayload(
                provider=update.provider, provider_event_id=update.provider_event_id,
                tracking_number=update.tracking_number, carrier=update.carrier, status=update.status,
                provider_status=update.provider_status, provider_substatus=update.provider_substatus,
                message=update.message, location=update.location, estimated_delivery=update.estimated_delivery,
            ),
        )
    except ValidationError as exc:
        raise InvalidPayload.from_validation(exc) from None


def aware_datetime(raw: object) -> datetime | None:
    """An ISO 8601 time with a zone (`Z` or an offset), or unix seconds; None otherwise.

    Carriers often report local times without a zone; those say nothing exact, so they are
    not used as the time of the event."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def hmac_sha256(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()
