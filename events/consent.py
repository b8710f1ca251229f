"""Consent per purpose: `consent.given` and `consent.withdrawn`.

The subject is named like any other event's: the envelope's contact identifiers (the address
or number a web form was sent with; the customer reference when an agent records it on a
customer's page) and `customer_id` when known. The source says how it was recorded: a web form
(its id, the field that carried it and the version of the consent text the person saw) or an
agent. Events of one subject share its contact key, so its statements stay in order on one
partition of the `consents` topic."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from events.envelope import ActorRef, Event, Frozen
from events.pii import PiiStr

# a purpose is a short name from the configuration, e.g. contact or marketing
PURPOSE_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"


class ConsentSource(Frozen):
    kind: Literal["webform", "agent"]
    form_id: str | None = Field(default=None, description="webform: the form it came with")
    field: str | None = Field(default=None, description="webform: the form field that carried it")
    text_version: str | None = Field(default=None, description="webform: version of the consent text shown")
    submission_id: str | None = Field(default=None, description="webform: the submission it came with")
    actor: ActorRef | None = Field(default=None, description="agent: who recorded it")

    @model_validator(mode="after")
    def _names_its_origin(self) -> ConsentSource:
        if self.kind == "webform" and not (self.form_id and self.text_version):
            raise ValueError("a web form's consent names its form_id and text_version")
        if self.kind == "agent" and self.actor is None:
            raise ValueError("an agent's consent names the agent (actor)")
        return self


class ConsentPayload(Frozen):
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    source: ConsentSource
    note: PiiStr | None = Field(default=None, description="agent: how the customer said so")


class _ConsentEvent(Event):
    def partition_key(self) -> str:
        # the subject: its contact key, else the customer's read-model id
        contact_key = self.contact.key()
        if contact_key is not None:
            return contact_key
        return f"customer_id:{self.customer_id}" if self.customer_id else f"event:{self.event_id}"


class ConsentGiven(_ConsentEvent):
    type: Literal["consent.given"] = "consent.given"
    schema_version: Literal[1] = 1
    channel: Literal["webform", "agent"] = "webform"
    payload: ConsentPayload


class ConsentWithdrawn(_ConsentEvent):
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    schema_version: Literal[1] = 1
    channel: Literal["webform", "agent"] = "webform"
    payload: ConsentPayload


ConsentEvent = ConsentGiven | ConsentWithdrawn
