"""The access audit as a fold: `apply(event)` gives the rows an event adds. Only
`customer.accessed` adds one; its fields are copied as they are, and they hold no personal data
of the customer (events/audit.py), so an erasure has nothing here to redact."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from events.audit import CustomerAccessed
from events.envelope import Event

PROJECTION = "access-audit"


@dataclass(frozen=True)
class AuditRow:
    event_id: str
    customer_id: str
    accessed_at: datetime
    user_name: str
    role: str
    resource: str
    entry_id: str | None
    blob_sha256: str | None
    client_address: str
    via: str

    def as_values(self) -> dict[str, Any]:
        return asdict(self)


def apply(event: Event) -> list[AuditRow]:
    if not isinstance(event, CustomerAccessed):
        return []
    p = event.payload
    return [AuditRow(event_id=str(event.event_id), customer_id=p.customer_id,
                     accessed_at=event.occurred_at.astimezone(UTC), user_name=p.user, role=p.role,
                     resource=p.resource, entry_id=p.entry_id, blob_sha256=p.blob_sha256,
                     client_address=p.client_address, via=p.via)]
