"""Which timeline writers must wait for each other: those touching the same customer's rows.

Projector instances write the timeline side by side, each from its own partitions. Two
batches can only disturb each other through a row both read or write: an identifier's claims
(an address, a number, a reference), a folded entry (a call, a parcel), a complaint's entries,
a customer record. Every such row has a key here, and a batch locks the keys of everything it
reads and writes before it trusts what it read. The locks are row locks on
`timeline_write_keys`, not advisory locks: a catch-up batch holds thousands of them, more than
PostgreSQL's shared lock table has room for. They are taken in key order, so writers queue
rather than deadlock; a deadlock left (a second round of locks) is a transient error, retried.

What a batch reads is known only once it has read: a customer's other addresses, the records
merged into one. So the writer locks the keys its events name, reads and folds, and when the
result names a key it does not hold yet, locks that too and reads again
(`TimelineWriter.apply_segment`). Batches about different customers never wait for each
other, whatever their partitions.

A key is a 64-bit hash of what it names. With privacy on, the hash is keyed by the master key's
blind-index secret, like the Kafka keys of contacts: the table outlives an erasure, and a plain
hash of an address would let anyone holding a guess confirm it was once there."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerRegistered, CustomerUnmerged
from events.envelope import Event
from services.projector.timeline.rows import Identifier, contact_id_for, customer_id_for
from services.projector.timeline.store import event_identifiers, folded_entry_id
from services.projector.timeline.view import MemoryView
from shared.privacy.runtime import active_sealer

# `timeline_write_keys` (Alembic revision 0014_timeline_write_keys): rows that exist only to be
# locked, one per key ever locked. One statement creates the missing keys and locks them all, in
# key order: a new row is locked by its insertion, and ON CONFLICT DO UPDATE locks every
# conflicting row even where its condition updates none (so no dead row versions pile up).
_LOCK = text("INSERT INTO timeline_write_keys (key) SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k "
             "ORDER BY k ON CONFLICT (key) DO UPDATE SET key = excluded.key WHERE false")


def hashing_secret() -> bytes:
    """The blind-index secret when privacy is on in this process, else none."""
    sealer = active_sealer()
    return sealer.master.blind_secret if sealer is not None else b""


def key_of(*parts: str, secret: bytes | None = None) -> int:
    """A signed 64-bit key; two rows sharing one by chance only wait for each other."""
    joined = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(joined, digest_size=8, key=hashing_secret() if secret is None else secret).digest()
    return int.from_bytes(digest, "big", signed=True)


def identifier_key(identifier: Identifier, secret: bytes | None = None) -> int:
    return key_of("identifier", *identifier, secret=secret)


def customer_key(customer_id: str, secret: bytes | None = None) -> int:
    return key_of("customer", customer_id, secret=secret)


def entry_key(entry_id: str, secret: bytes | None = None) -> int:
    return key_of("entry", entry_id, secret=secret)


def complaint_key(complaint_id: str, secret: bytes | None = None) -> int:
    return key_of("complaint", complaint_id, secret=secret)


def event_keys(events: Sequence[Event]) -> set[int]:
    """What the events name themselves: their identifiers and unmatched contact, the entry they
    fold into, their complaint, and the records and identifiers master data changes."""
    secret = hashing_secret()

    def identifier(i: Identifier) -> int:
        return identifier_key(i, secret)

    def customer(customer_id: str) -> int:
        return customer_key(customer_id, secret)

    keys: set[int] = set()
    for event in events:
        identifiers = event_identifiers(event)
        keys |= {identifier(i) for i in identifiers}
        if identifiers:
            keys.add(customer(contact_id_for(identifiers[0])))
        folded = folded_entry_id(event)
        if folded:
            keys.add(entry_key(folded, secret))
        complaint = event.payload_value("complaint_id")
        if complaint:
            keys.add(complaint_key(complaint, secret))
        match event:
            case CustomerRegistered(payload=p):
                keys.add(customer(customer_id_for(p.customer_ref)))
                named = [("customer_ref", p.customer_ref), *(("email", v) for v in p.emails),
                         *(("phone", v) for v in p.phones), *(("order_ref", v) for v in p.order_refs)]
                keys |= {identifier(i) for i in named}
            case ContactLinked(payload=p) | ContactUnlinked(payload=p):
                keys |= {identifier((p.identifier.kind, p.identifier.value)), customer(customer_id_for(p.customer_ref))}
            case CustomerMerged(payload=p) | CustomerUnmerged(payload=p):
                keys |= {customer(customer_id_for(p.customer_ref)), customer(customer_id_for(p.into_customer_ref))}
    return keys


def view_keys(view: MemoryView) -> set[int]:
    """The keys of every row in the view: what was read, and (once folded) what is written. An
    entry is reached through its identifiers and its complaint; its own id matters only for a
    folded entry, which its events name."""
    secret = hashing_secret()
    keys = {identifier_key(identifier, secret) for identifier in view.identities}
    keys |= {customer_key(customer_id, secret) for customer_id in view.customers}
    for entry in view.entries.values():
        keys |= {identifier_key(identifier, secret) for identifier in entry.identifiers()}
        if entry.complaint_id:
            keys.add(complaint_key(entry.complaint_id, secret))
    return keys


async def lock_keys(conn: AsyncConnection, keys: Iterable[int], held: set[int]) -> bool:
    """Locks the keys not held yet, until the transaction ends; False when there were none."""
    wanted = sorted(set(keys) - held)
    if not wanted:
        return False
    await conn.execute(_LOCK, {"keys": wanted})
    held.update(wanted)
    return True
