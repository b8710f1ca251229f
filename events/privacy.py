"""`customer.erased`: a subject's data keys were destroyed (crypto-shredding). It carries no
personal data: the business reference, the read-model ids of the timelines to redact, and the
blind subject ids whose keys are gone (so every process drops them from its caches). Data still
under a legal hold is not destroyed but restricted (GDPR Art. 18) until the hold ends: listed in
`restricted` by retention class and year.

`privacy.expired`: retention shredded the keys of one retention class of one year, for every
subject; read models redact the entries of its types from that year."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.envelope import ActorRef, Event, Frozen


class Restriction(Frozen):
    """Data of one retention class and year kept (hidden, not used) until its hold ends."""

    retention_class: str = Field(min_length=1, description="the [privacy.retention] pattern, e.g. email.*")
    year: int
    until: AwareDatetime = Field(description="when the hold ends and retention shreds it")
    types: tuple[str, ...] = Field(description="the event types of this class when it was restricted")


class CustomerErasedPayload(Frozen):
    erasure_id: str = Field(min_length=1)
    customer_ref: str | None = Field(default=None, description="set when a customer (not a contact) was erased")
    timeline_ids: tuple[str, ...] = Field(description="customer and contact ids in the read models to redact")
    subjects: tuple[str, ...] = Field(description="blind ids of the subjects whose keys were destroyed")
    keys_destroyed: int = Field(ge=0)
    actor: ActorRef
    restricted: tuple[Restriction, ...] = Field(
        default=(), description="data under a legal hold: restricted now, shredded by retention when the hold ends")


class CustomerErased(Event):
    type: Literal["customer.erased"] = "customer.erased"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: CustomerErasedPayload

    fallback_key_field: ClassVar[str | None] = "erasure_id"


class PrivacyExpiredPayload(Frozen):
    retention_class: str = Field(min_length=1, description="the [privacy.retention] pattern, e.g. email.*")
    year: int
    types: tuple[str, ...] = Field(description="the event types of this class: their entries of `year` are redacted")
    expires_at: AwareDatetime = Field(description="the end of the retention period")
    keys_destroyed: int = Field(ge=0)


class PrivacyExpired(Event):
    type: Literal["privacy.expired"] = "privacy.expired"
    schema_version: Literal[1] = 1
    channel: Literal["system"] = "system"
    payload: PrivacyExpiredPayload

    fallback_key_field: ClassVar[str | None] = "retention_class"
