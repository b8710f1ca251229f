"""Erasure of a customer or an unmatched contact (GDPR Art. 17) by crypto-shredding.

`erase(...)` finds the subject's keys (the customer's own, and those of every address and
number linked to it in the read model), destroys them, records the erasure (no personal
data) and publishes `customer.erased`, from which every read model redacts what it holds.
Destroying comes first: once it returned, the data is unreadable in the log, dead letters,
outboxes and blobs, whatever happens next; a failed publish is repaired by running the
erasure again (it finds no keys left and publishes again).

Keys still under a legal hold (`[privacy.retention]`) are not destroyed: their data is
restricted until the hold ends (`restriction.py`), and the retention job shreds it then."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.envelope import ActorRef
from events.ids import event_id_for
from events.privacy import CustomerErased, CustomerErasedPayload
from services.projector.timeline.rows import contact_id_for, customer_id_for
from services.projector.timeline.tables import TIMELINE
from services.projector.privacy import restriction
from shared.kafka.publisher import Publisher
from shared.privacy.master import MasterKey
from shared.privacy.retention import RetentionRules
from shared.privacy.runtime import active_sealer
from shared.privacy.store import KeyTable
from shared.privacy.subjects import NO_RULES, contact_subject, customer_id_subject, customer_subject

PERSONAL_KINDS = ("email", "phone")
erasures = sa.Table(
    "privacy_erasures", sa.MetaData(),
    sa.Column("erasure_id", sa.String(64), primary_key=True),
    sa.Column("subjects", sa.Text, nullable=False),
    sa.Column("keys_destroyed", sa.Integer, nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
)


class NothingToErase(LookupError):
    """No customer with that reference, or the identifier belongs to a customer."""


@dataclass(frozen=True)
class Target:
    """A customer by reference, or an unmatched contact by one normalised identifier."""

    customer_ref: str | None = None
    identifier: tuple[str, str] | None = None


@dataclass(frozen=True)
class Scope:
    timeline_ids: tuple[str, ...]
    subjects: tuple[str, ...]


async def scope_of(engine: AsyncEngine, master: MasterKey, target: Target) -> Scope:
    customers, identities = TIMELINE.customers, TIMELINE.identities
    async with engine.connect() as conn:
        if target.customer_ref is not None:
            customer_id = customer_id_for(target.customer_ref)
            row = (await conn.execute(sa.select(customers.c.emails, customers.c.phones).where(
                customers.c.id == customer_id))).first()
            if row is None:
                raise NothingToErase(f"no customer with reference {target.customer_ref!r}")
            claimed = (await conn.execute(sa.select(identities.c.kind, identities.c.value).where(
                identities.c.customer_id == customer_id, identities.c.kind.in_(PERSONAL_KINDS)))).all()
            identifiers = {("email", e) for e in row.emails or ()} | {("phone", p) for p in row.phones or ()}
            identifiers |= {(r.kind, r.value) for r in claimed}
            own = [customer_subject(master, target.customer_ref), customer_id_subject(customer_id)]
            ids = [customer_id]
        else:
            assert target.identifier is not None
            kind, value = target.identifier
            owner = (await conn.execute(sa.select(identities.c.customer_id).where(
                identities.c.kind == kind, identities.c.value == value))).scalar()
            if owner is not None:
                ref = (await conn.execute(sa.select(customers.c.customer_ref).where(customers.c.id == owner))).scalar()
                raise NothingToErase(f"that {kind} belongs to customer {ref}; erase the customer instead")
            identifiers, own, ids = {target.identifier}, [], []
    ordered = sorted(identifiers)
    subjects = own + [contact_subject(master, kind, value) for kind, value in ordered]
    return Scope(tuple(ids + [contact_id_for(identifier) for identifier in ordered]), tuple(subjects))


async def erase(engine: AsyncEngine, master: MasterKey, publisher: Publisher, target: Target, actor: ActorRef,
                now: datetime | None = None, rules: RetentionRules | None = None) -> CustomerErased:
    """`rules`: the retention rules that decide what is under a hold (default: this process's)."""
    scope = await scope_of(engine, master, target)
    sealer = active_sealer()
    rules = rules if rules is not None else (sealer.retention if sealer is not None else NO_RULES)
    at = now or datetime.now(UTC)
    keys = KeyTable(engine, master)
    decision = restriction.decide(await keys.periods_of(scope.subjects), rules, at)
    destroyed = await keys.destroy_keys(decision.destroy)
    if sealer is not None:
        sealer.forget(list(scope.subjects))
    erasure_id = uuid.uuid4().hex
    async with engine.begin() as conn:
        await conn.execute(erasures.insert().values(erasure_id=erasure_id, subjects="\n".join(scope.subjects),
                                                    keys_destroyed=destroyed, requested_by=actor.name, erased_at=at))
        await restriction.record(conn, decision, erasure_id, target.customer_ref, at)
    event = CustomerErased(
        event_id=event_id_for("customer.erased", erasure_id), occurred_at=at, recorded_at=at, source="erasure",
        channel="agent" if actor.kind == "agent" else "system",
        payload=CustomerErasedPayload(erasure_id=erasure_id, customer_ref=target.customer_ref,
                                      timeline_ids=scope.timeline_ids, subjects=scope.subjects,
                                      keys_destroyed=destroyed, actor=actor,
                                      restricted=decision.restricted(rules)))
    await publisher.publish([event])
    return event
