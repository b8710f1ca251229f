"""The read model's rows as plain values, shared by the pure projection, the in-memory view
and the database store. Ids are derived from natural keys, so a rebuild produces the same ids."""

from __future__ import annotations

import uuid
from functools import lru_cache
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

# Fixed forever: changing it would give every customer, contact and entry a new id.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:touchpoint:timeline")

# Highest priority first: the identifier that decides when an interaction names several.
IDENTIFIER_KINDS: tuple[str, ...] = ("customer_ref", "email", "phone", "order_ref", "tracking_number")

Identifier = tuple[str, str]  # (kind, value)


def utc(moment: datetime) -> datetime:
    """Every stored time in UTC (SQLite keeps no offset; sorting needs one zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@lru_cache(maxsize=65536)
def customer_id_for(customer_ref: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"customer\x1f{customer_ref}"))


@lru_cache(maxsize=65536)
def contact_id_for(identifier: Identifier) -> str:
    """The unmatched contact behind one identifier."""
    kind, value = identifier
    return str(uuid.uuid5(NAMESPACE, f"contact\x1f{kind}\x1f{value}"))


@lru_cache(maxsize=65536)
def entry_id_for(entry_key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"entry\x1f{entry_key}"))


@dataclass(frozen=True)
class CustomerRow:
    """A customer from master data, or an unmatched contact (`kind="contact"`) that owns the
    history of an identifier no customer claims."""

    id: str
    kind: Literal["customer", "contact"]
    name: str | None = None
    customer_ref: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    order_refs: tuple[str, ...] = ()
    segment: str | None = None
    language: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None
    # merged into another customer's record: its history shows there until it is unmerged
    merged_into: str | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None

    def identifiers(self) -> set[Identifier]:
        found: set[Identifier] = set()
        if self.kind == "customer" and self.customer_ref:
            found.add(("customer_ref", self.customer_ref))
        found.update(("email", value) for value in self.emails)
        found.update(("phone", value) for value in self.phones)
        found.update(("order_ref", value) for value in self.order_refs)
        return found


@dataclass(frozen=True)
class IdentityRow:
    """Who an identifier belongs to. `claimants` are the customers that claim it (master data
    or links); exactly one makes it theirs, two or more make it ambiguous."""

    kind: str
    value: str
    claimants: tuple[str, ...] = ()
    hard_bounced_at: datetime | None = None  # an address: when mail to it last failed for good

    @property
    def customer_id(self) -> str | None:
        return self.claimants[0] if len(self.claimants) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.claimants) > 1

    @property
    def contact_id(self) -> str:
        return contact_id_for((self.kind, self.value))


@dataclass(frozen=True)
class EntryRow:
    """One interaction on a timeline. Folded interactions (a call, a parcel) keep one row
    whose `details` hold the state built from all their events."""

    id: str
    entry_key: str
    owner_id: str
    contact_id: str | None
    event_id: str
    type: str
    channel: str
    direction: str | None
    occurred_at: datetime
    recorded_at: datetime
    summary: str
    details: dict[str, Any]
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    customer_ref: str | None = None
    order_ref: str | None = None
    tracking_number: str | None = None
    complaint_id: str | None = None

    def identifiers(self) -> list[Identifier]:
        """Present identifiers, highest priority first."""
        return [(kind, getattr(self, kind)) for kind in IDENTIFIER_KINDS if getattr(self, kind)]


Row = TypeVar("Row", CustomerRow, IdentityRow, EntryRow)
_FIELD_NAMES = {cls: frozenset(f.name for f in fields(cls)) for cls in (CustomerRow, IdentityRow, EntryRow)}


def changed(row: Row, **values: Any) -> Row:
    """The row with some fields set anew: what `dataclasses.replace` returns, built by copying
    the instance's dict. The rows have no `__post_init__` and only init fields, so the copy is
    the same object; `replace` walks every field on each call, and the projection makes a copy
    for every entry it places."""
    if not values.keys() <= _FIELD_NAMES[type(row)]:
        raise TypeError(f"{type(row).__name__} has no field(s) {sorted(values.keys() - _FIELD_NAMES[type(row)])}")
    new = object.__new__(type(row))
    new.__dict__.update(row.__dict__)
    new.__dict__.update(values)
    return new
