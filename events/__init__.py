"""Touchpoint's event contract: envelope, one module per event family, codec, topics, schemas.

Imports nothing from `services/` or `shared/`: producers and consumers depend on it, never
the other way round."""

from events.codec import InvalidEvent, decode, encode, upcaster
from events.envelope import Address, ContactIdentifiers, Event, StoredBlob
from events.ids import event_id_for
from events.registry import EVENT_CLASSES, EVENT_TYPES

__all__ = [
    "Address", "ContactIdentifiers", "EVENT_CLASSES", "EVENT_TYPES", "Event", "InvalidEvent",
    "StoredBlob", "decode", "encode", "event_id_for", "upcaster",
]
