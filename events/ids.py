"""Deterministic event ids: the same source fact always yields the same id, so retries and
replays of a source deduplicate themselves downstream."""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every historic fact a new id.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:touchpoint:event")


def event_id_for(*natural_key: object) -> uuid.UUID:
    """uuid5 of the natural key's parts, e.g. `event_id_for("call.ended", "twilio", call_sid)`.

    Parts are joined with a unit separator so that ("ab", "c") and ("a", "bc") differ."""
    if not natural_key:
        raise ValueError("a natural key needs at least one part")
    return uuid.uuid5(NAMESPACE, "\x1f".join(str(part) for part in natural_key))
