"""What one read of personal data becomes: a `customer.accessed` event. Pure: the reader, the
thing read and the time in, the event out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from events.audit import CustomerAccessed, CustomerAccessedPayload, Resource, Via

SOURCES: dict[Via, str] = {"page": "web", "api": "api", "cli": "cli"}


@dataclass(frozen=True)
class Reader:
    """Who reads: a signed-in user or a token's user, and the client's address."""

    user: str
    role: str
    client_address: str
    via: Via


@dataclass(frozen=True)
class Read:
    """What is read: always a customer (or contact) by read-model id, sometimes one entry or blob."""

    resource: Resource
    customer_id: str
    entry_id: str | None = None
    blob_sha256: str | None = None


def access_event(reader: Reader, read: Read, at: datetime) -> CustomerAccessed:
    # every read is a fact of its own: a random id, never deduplicated against another read
    return CustomerAccessed(
        event_id=uuid.uuid4(), occurred_at=at, recorded_at=at, source=SOURCES[reader.via],
        payload=CustomerAccessedPayload(
            customer_id=read.customer_id, resource=read.resource, entry_id=read.entry_id,
            blob_sha256=read.blob_sha256, user=reader.user[:200], role=reader.role,
            client_address=reader.client_address[:64] or "unknown", via=reader.via))
