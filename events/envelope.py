"""The envelope every Touchpoint event carries, and the base class of all event models."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from events.pii import PiiStr
from events.text import clean_event_input

# Validation context of events read back from the log: they were cleaned when they were built.
FROM_LOG = {"from_log": True}

Channel = Literal["email", "phone", "webform", "shipping", "agent", "system"]


class Frozen(BaseModel):
    """Base for payloads and value objects: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ContactIdentifiers(Frozen):
    """The customer-side identifiers of an interaction, already normalised by the adapter:
    lower-cased email address, E.164 phone number, and the references a business uses."""

    email: PiiStr | None = None
    phone: PiiStr | None = None
    customer_ref: str | None = None
    order_ref: str | None = None
    tracking_number: str | None = None

    @field_validator("email")
    @classmethod
    def _email_is_normalised(cls, value: str | None) -> str | None:
        if value is not None and (value != value.strip().lower() or "@" not in value):
            raise ValueError("must be a lower-cased address with an @ (normalise before building the event)")
        return value

    @field_validator("phone")
    @classmethod
    def _phone_is_e164(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("+") and value[1:].isdigit() and 4 <= len(value) <= 16):
            raise ValueError("must be an E.164 number such as +4930123456")
        return value

    def key(self) -> str | None:
        """The most stable identifier, used as the Kafka message key."""
        for kind in ("customer_ref", "email", "phone", "order_ref", "tracking_number"):
            value = getattr(self, kind)
            if value:
                return f"{kind}:{value}"
        return None


class Event(Frozen):
    """Envelope fields shared by every event. Subclasses pin `type`, `schema_version` and
    `channel` with literals and define a typed `payload`."""

    event_id: UUID
    type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(description="when it happened at the source")
    recorded_at: AwareDatetime = Field(description="when Touchpoint captured it")
    channel: Channel
    source: str = Field(min_length=1, description="adapter or service that produced it, e.g. imap:support")
    contact: ContactIdentifiers = ContactIdentifiers()
    customer_id: str | None = None
    correlation_id: str | None = Field(
        default=None, description="the chain this event belongs to: its own event id when it starts one"
    )
    causation_id: str | None = Field(default=None, description="event id of the event that caused this one")
    historic: bool = Field(
        default=False,
        description="imported from a backlog: shown on timelines, never opens complaints or SLAs",
    )
    payload: Frozen
    truncated: tuple[str, ...] = Field(
        default=(), description="text fields cut to the limit of their kind when the event was built (events/text.py)",
    )
    bidi_removed: tuple[str, ...] = Field(
        default=(), description="single-line text fields whose bidirectional override or isolate controls were removed",
    )

    # Subclasses may name a payload field whose value keys the event when no contact is known
    # (e.g. a call id), so that all events of one thing stay in one partition, in order.
    fallback_key_field: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _clean_text(cls, data: Any, info: ValidationInfo) -> Any:
        # the edge: every event is built from clean text (see events/text.py)
        if info.context and info.context.get("from_log"):
            return data
        return clean_event_input(data, cls)

    @model_validator(mode="before")
    @classmethod
    def _starts_a_chain_when_uncorrelated(cls, data: Any) -> Any:
        # a captured webhook or mail starts its own chain; derived events pass theirs on
        if isinstance(data, dict) and not data.get("correlation_id") and data.get("event_id") is not None:
            return {**data, "correlation_id": str(data["event_id"])}
        return data

    def payload_value(self, name: str) -> Any:
        """The payload's field `name`, None when this type's payload has no such field. A missed
        attribute on a pydantic model raises and catches an error inside `getattr`, a cost
        projections would pay on every event they ask for a complaint id."""
        return self.payload.__dict__.get(name)

    def partition_key(self) -> str:
        contact_key = self.contact.key()
        if contact_key is not None:
            return contact_key
        if self.fallback_key_field is not None:
            return f"{self.fallback_key_field}:{getattr(self.payload, self.fallback_key_field)}"
        return f"event:{self.event_id}"


class Address(Frozen):
    """A mail address as written (display name kept) with its normalised form."""

    email: PiiStr
    name: PiiStr | None = None


class StoredBlob(Frozen):
    """Content kept outside Kafka (attachments, oversized bodies, raw messages), addressed by hash."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    content_type: str = "application/octet-stream"
    filename: PiiStr | None = None
    key: PiiStr | None = Field(
        default=None, description="base64 AES-256-GCM key of a sealed blob (sha256 and size are then those of the "
        "stored ciphertext); personal data itself, so sealed under the subject's key in the event")


class ActorRef(Frozen):
    """Who did something inside Touchpoint: an agent's user name, or a service."""

    kind: Literal["agent", "system", "customer"] = "agent"
    name: str
