"""`customer.accessed`: a user read personal data of a customer (or of an unmatched contact):
its page, its timeline, an entry, a mail body, an attachment, or an export. Appended to the
`audit` topic, keyed by the customer's read-model id so one customer's reads stay in order.

It holds no personal data of the customer by construction: the read-model ids of the customer
and of the entry, the blob's hash, and who read it (user name, role, client address) — so an
erasure leaves the record of who looked intact, and nothing in it needs sealing."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from events.envelope import Event, Frozen

Resource = Literal["customer", "timeline", "entry", "mail_body", "attachment", "export"]
Via = Literal["page", "api", "cli"]


class CustomerAccessedPayload(Frozen):
    customer_id: str = Field(min_length=1, max_length=64, description="read-model id of the customer or contact")
    resource: Resource
    entry_id: str | None = Field(default=None, max_length=64, description="the timeline entry read, if one")
    blob_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="the attachment read, if one")
    user: str = Field(min_length=1, max_length=200, description="who read it: a user name or a token's user")
    role: str = Field(min_length=1, max_length=16)
    client_address: str = Field(min_length=1, max_length=64,
                                description="the client's address (X-Forwarded-For only behind a trusted proxy)")
    via: Via


class CustomerAccessed(Event):
    type: Literal["customer.accessed"] = "customer.accessed"
    schema_version: Literal[1] = 1
    channel: Literal["agent", "system"] = "agent"
    payload: CustomerAccessedPayload

    fallback_key_field: ClassVar[str | None] = "customer_id"
