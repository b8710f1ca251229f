"""Mail captured from a mailbox: `email.received` (from a customer) and `email.sent` (to one)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from events.envelope import Address, Event, Frozen, StoredBlob
from events.pii import PiiStr

# list: newsletters and mailing lists (List-Id, List-Unsubscribe, Precedence: bulk / list)
Classification = Literal["normal", "auto_reply", "list", "bounce"]
ThreadEvidence = Literal["references", "in_reply_to", "subject", "message_id", "none"]


class MailboxPosition(Frozen):
    """Where the message was read: enough to find it again in the mailbox."""

    mailbox: str
    folder: str
    uidvalidity: int | None = None
    uid: int | None = None


class EmailPayload(Frozen):
    position: MailboxPosition
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sender: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    subject: PiiStr = ""
    date: AwareDatetime | None = None
    text: PiiStr | None = Field(default=None, description="plain text body, or a rendering of the HTML")
    html: PiiStr | None = Field(default=None, description="HTML body as received; sanitise before display")
    body_truncated: bool = False
    full_body: StoredBlob | None = Field(default=None, description="the whole body when text/html were cut")
    attachments: tuple[StoredBlob, ...] = ()
    raw: StoredBlob | None = Field(default=None, description="the original RFC 5322 bytes")
    classification: Classification = "normal"
    classification_reasons: tuple[str, ...] = ()
    bounced_message_id: str | None = Field(default=None, description="Message-ID of the mail that bounced")
    bounced_recipients: tuple[PiiStr, ...] = Field(
        default=(), description="addresses a bounce reports as failed for good (a hard bounce)"
    )
    delayed_recipients: tuple[PiiStr, ...] = Field(
        default=(), description="addresses a bounce reports as failing for now (the server still tries)"
    )
    thread_key: str
    thread_evidence: ThreadEvidence = "none"
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the raw message")
    parse_error: str | None = Field(default=None, description="why the message could not be read; raw is kept")
    defects: tuple[str, ...] = Field(
        default=(), description="problems met while reading that lost nothing essential, e.g. a wrong charset"
    )


class EmailReceived(Event):
    type: Literal["email.received"] = "email.received"
    schema_version: Literal[1] = 1
    channel: Literal["email"] = "email"
    payload: EmailPayload

    fallback_key_field: ClassVar[str | None] = "thread_key"


class EmailSent(Event):
    type: Literal["email.sent"] = "email.sent"
    schema_version: Literal[1] = 1
    channel: Literal["email"] = "email"
    payload: EmailPayload

    fallback_key_field: ClassVar[str | None] = "thread_key"
