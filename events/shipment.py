"""Parcel tracking updates from carriers and aggregators: `shipment.status_changed`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.envelope import Event, Frozen
from events.pii import PiiStr

ShipmentStatus = Literal[
    "label_created", "in_transit", "out_for_delivery", "failed_attempt", "available_for_pickup",
    "delivered", "exception", "returned", "expired", "unknown",
]


class ShipmentPayload(Frozen):
    provider: str = Field(description="aftership, easypost, generic")
    provider_event_id: str | None = None
    tracking_number: str = Field(min_length=1)
    carrier: str | None = None
    status: ShipmentStatus
    provider_status: str | None = Field(default=None, description="the provider's own status / tag")
    provider_substatus: str | None = None
    message: str | None = None
    location: PiiStr | None = None
    estimated_delivery: AwareDatetime | None = None


class ShipmentStatusChanged(Event):
    type: Literal["shipment.status_changed"] = "shipment.status_changed"
    schema_version: Literal[1] = 1
    channel: Literal["shipping"] = "shipping"
    payload: ShipmentPayload

    fallback_key_field: ClassVar[str | None] = "tracking_number"
