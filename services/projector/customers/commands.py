"""Write side: link or unlink an identifier, merge a customer record into another and undo it.

Each command reads what it must check through `conn`, decides, and publishes one event through
`publisher` (returning after Kafka acknowledged it); the projection does the rest. A refused
command raises `Rejected` with an HTTP-like status, a code and what to do instead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncConnection

from events.customer import ContactLinked, ContactUnlinked, CustomerMerged, CustomerUnmerged, IdentifierKind
from events.envelope import ActorRef, Event
from events.ids import event_id_for
from services.projector.api import queries
from services.projector.timeline.rows import CustomerRow
from shared.contacts import normalise_email, normalise_phone
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import Publisher

Clock = Callable[[], datetime]
log = logging.getLogger("touchpoint.customers")


def system_clock() -> datetime:
    return datetime.now(UTC)


class Rejected(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Actor:
    user: str
    source: str  # api | web

    def ref(self) -> ActorRef:
        return ActorRef(kind="agent", name=self.user)


KINDS = get_args(IdentifierKind)
MAX_VALUE = 320  # the longest address; the identities table holds no more


def normalised(kind: str, value: str, region: str | None) -> str:
    if kind not in KINDS:
        raise Rejected(422, "invalid_identifier", f"kind: must be one of {list(KINDS)}")
    if len(value) > MAX_VALUE:
        raise Rejected(422, "invalid_identifier", f"value: at most {MAX_VALUE} characters")
    if kind == "email":
        found = normalise_email(value)
    elif kind == "phone":
        found = normalise_phone(value, region)
    else:
        found = value.strip() or None
    if found is None:
        raise Rejected(422, "invalid_identifier", f"{kind} {value!r} is not valid; give an address like "
                       "erika@example.org or a phone number like +4930123456")
    return found


async def link(conn: AsyncConnection, publisher: Publisher, clock: Clock, actor: Actor, customer_id: str,
               kind: str, value: str, reason: str | None = None, unlink: bool = False) -> Event:
    """`value` already normalised (see `normalised`)."""
    owner = await a_customer(conn, customer_id, "contacts cannot be link targets")
    identity = await queries.identity(conn, kind, value)
    claimed = identity is not None and customer_id in identity.claimants
    if unlink and not claimed:
        raise Rejected(409, "not_linked", f"{kind} {value} does not belong to this customer")
    if not unlink and claimed:
        raise Rejected(409, "already_linked", f"{kind} {value} already belongs to this customer")
    now = clock()
    cls = ContactUnlinked if unlink else ContactLinked
    event = cls(
        event_id=event_id_for(cls.model_fields["type"].default, owner.customer_ref, kind, value, actor.user, now.isoformat()),
        occurred_at=now, recorded_at=now, channel="agent", source=actor.source,
        payload={"identifier": {"kind": kind, "value": value}, "customer_ref": owner.customer_ref,
                 "actor": actor.ref(), "reason": reason},
    )
    return await published(publisher, event)


async def merge(conn: AsyncConnection, publisher: Publisher, clock: Clock, actor: Actor, into_id: str, other_id: str,
                reason: str | None = None) -> Event:
    """Merges the record `other_id` into `into_id`: one timeline until it is unmerged."""
    into = await a_customer(conn, into_id, "only customer records can be merged")
    other = await a_customer(conn, other_id, "only customer records can be merged; link a contact's identifier instead")
    if into.id == other.id:
        raise Rejected(409, "same_customer", "a record cannot be merged into itself")
    for row in (into, other):
        if row.merged_into:
            target = await queries.customer(conn, row.merged_into)
            raise Rejected(409, "already_merged", f"{row.customer_ref} is merged into "
                           f"{target.customer_ref if target else row.merged_into}; unmerge it first or merge into that record")
    now = clock()
    event = CustomerMerged(
        event_id=event_id_for("customer.merged", other.customer_ref, into.customer_ref, actor.user, now.isoformat()),
        occurred_at=now, recorded_at=now, channel="agent", source=actor.source,
        payload={"customer_ref": other.customer_ref, "into_customer_ref": into.customer_ref, "actor": actor.ref(),
                 "reason": reason},
    )
    return await published(publisher, event)


async def unmerge(conn: AsyncConnection, publisher: Publisher, clock: Clock, actor: Actor, merged_id: str,
                  reason: str | None = None) -> Event:
    """Takes the record `merged_id` out of the record it was merged into."""
    merged = await a_customer(conn, merged_id, "only customer records can be unmerged")
    into = await queries.customer(conn, merged.merged_into) if merged.merged_into else None
    if into is None or into.customer_ref is None:
        raise Rejected(409, "not_merged", f"{merged.customer_ref} is not merged into another record")
    now = clock()
    event = CustomerUnmerged(
        event_id=event_id_for("customer.unmerged", merged.customer_ref, into.customer_ref, actor.user, now.isoformat()),
        occurred_at=now, recorded_at=now, channel="agent", source=actor.source,
        payload={"customer_ref": merged.customer_ref, "into_customer_ref": into.customer_ref, "actor": actor.ref(),
                 "reason": reason},
    )
    return await published(publisher, event)


async def a_customer(conn: AsyncConnection, customer_id: str, why_not: str) -> CustomerRow:
    row = await queries.customer(conn, customer_id)
    if row is None or row.kind != "customer" or row.customer_ref is None:
        raise Rejected(404, "not_found", f"no customer with id {customer_id} ({why_not})")
    return row


async def published(publisher: Publisher, event: Event) -> Event:
    try:
        await publisher.publish([event])
    except KafkaUnavailable as exc:
        log.warning("an agent action was not recorded: Kafka did not acknowledge: %s", exc)
        raise Rejected(503, "kafka_unavailable", "Kafka is unavailable; the action was not recorded, try again") from None
    return event
