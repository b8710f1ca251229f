"""`customer.erased`: a subject's data keys were destroyed (crypto-shredding). It carries no
personal data: the business reference, the read-model ids of the timelines to redact, and the
blind subject ids whose keys are gone (so every process drops them from its caches)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from events.envelope import ActorRef, Event, Frozen


class CustomerErasedPayload(Frozen):
    erasure_id: str = Field(min_length=1)
    customer_ref: str | None = Field(default=None, description="set when a customer (not a contact) was erased")
    timeline_ids: tuple[str, ...] = Field(description="customer and contact ids in the read models to redact")
    subjects: tuple[str, ...] = Field(description="blind ids of the subjects whose keys were destroyed")
    keys_destroyed: int = Field(ge=0)
    actor: ActorRef


class CustomerErased(Event):
    type: Literal["customer.erased"] = "customer.erased"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: CustomerErasedPayload

    fallback_key_field: ClassVar[str | None] = "erasure_id"
