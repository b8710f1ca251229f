"""Customer master data and identity: `customer.registered` (also for updates of the same
customer_ref), `contact.linked` and `contact.unlinked`, `customer.merged` and `customer.unmerged`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from events.envelope import ActorRef, Event, Frozen
from events.pii import PiiStr

IdentifierKind = Literal["email", "phone", "customer_ref", "order_ref", "tracking_number"]


class CustomerRegisteredPayload(Frozen):
    customer_ref: str = Field(min_length=1)
    name: PiiStr
    emails: tuple[PiiStr, ...] = ()
    phones: tuple[PiiStr, ...] = Field(default=(), description="E.164")
    order_refs: tuple[str, ...] = ()
    segment: str | None = None
    language: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Identifier(Frozen):
    kind: IdentifierKind
    value: PiiStr = Field(min_length=1)


class ContactLinkPayload(Frozen):
    identifier: Identifier
    customer_ref: str = Field(min_length=1)
    actor: ActorRef | None = None
    reason: str | None = None


class _CustomerEvent(Event):
    def partition_key(self) -> str:
        return f"customer_ref:{self.payload.customer_ref}"


class CustomerRegistered(_CustomerEvent):
    type: Literal["customer.registered"] = "customer.registered"
    schema_version: Literal[1] = 1
    channel: Literal["system", "agent"] = "system"
    payload: CustomerRegisteredPayload


class ContactLinked(_CustomerEvent):
    type: Literal["contact.linked"] = "contact.linked"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: ContactLinkPayload


class ContactUnlinked(_CustomerEvent):
    type: Literal["contact.unlinked"] = "contact.unlinked"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: ContactLinkPayload


class CustomerMergePayload(Frozen):
    """Two records of one person: `customer_ref` is merged into (or back out of) `into_customer_ref`.
    Keyed by `customer_ref`, so a record's merges and unmerges stay in order on one partition."""

    customer_ref: str = Field(min_length=1, description="the record merged away")
    into_customer_ref: str = Field(min_length=1, description="the record that carries both timelines")
    actor: ActorRef | None = None
    reason: str | None = None


class CustomerMerged(_CustomerEvent):
    type: Literal["customer.merged"] = "customer.merged"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: CustomerMergePayload


class CustomerUnmerged(_CustomerEvent):
    type: Literal["customer.unmerged"] = "customer.unmerged"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: CustomerMergePayload
