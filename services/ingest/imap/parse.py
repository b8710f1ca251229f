"""`parse_message`: one RFC 5322 message (bytes as fetched) into one `email.received` or
`email.sent` event. Pure apart from the blob sink it is handed (a port), and it never raises
on bad mail: what cannot be read is named in `parse_error`, and the raw bytes are kept.

The event id is deterministic: the Message-ID plus a fingerprint of the content (addresses,
subject, date and body, not the trace headers a server adds), so a re-fetch, a resync after a
UIDVALIDITY change, or the same mail in another folder gives the same id, while a sender that
reuses a Message-ID for different content gets a different event."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Literal

from events.codec import encode
from events.email import EmailPayload, EmailReceived, EmailSent, MailboxPosition
from events.envelope import Address, ContactIdentifiers
from events.ids import event_id_for
from services.ingest.imap.body import Body, read_body
from services.ingest.imap.charsets import repair
from services.ingest.imap.classify import Verdict, classify
from services.ingest.imap.headers import IndexedMessage, first_message_id, header_text, message_ids, raw_values
from services.ingest.imap.thread_keys import thread_key
from shared.blobs import BlobSink
from shared.contacts import normalise_email

Direction = Literal["incoming", "outgoing"]

# The email topic takes 1 MiB per record; stay well below it whatever the JSON escaping does.
MAX_EVENT_BYTES = 512 * 1024
MAX_TEXT_CHARS = 100_000
MAX_HTML_CHARS = 200_000
MAX_ADDRESSES = 100
MAX_REFERENCES = 50
MAX_SUBJECT_CHARS = 998  # the RFC 5322 line limit
LONG_ADDRESS_HEADER = 8192
# Raw characters of a free-text header (Subject, ...) that are decoded: the email package takes
# time quadratic in its length (seconds for 256 KB), and 998 characters are all an event keeps.
LONG_TEXT_HEADER = 16_384


def parse_message(
    raw: bytes,
    *,
    mailbox: str,
    folder: str,
    uid: int | None,
    uidvalidity: int | None,
    direction: Direction,
    received_at: datetime,
    blobs: BlobSink,
    recorded_at: datetime | None = None,
    historic_before: datetime | None = None,
) -> EmailReceived | EmailSent:
    """`received_at` is the server's INTERNALDATE and becomes `occurred_at`; mail that arrived
    before `historic_before` is marked historic (shown, but never starts SLAs)."""
    raw_blob = blobs.put(raw, "message/rfc822")
    try:
        read = _read(raw, direction, blobs)
    except OSError:
        raise  # the blob store failed: transient, retried by the caller
    except Exception as exc:  # whatever the mail does to the email package, the mail is kept
        read = _read_leniently(raw, f"{type(exc).__name__}: {exc}"[:500])
    event_type = EmailReceived if direction == "incoming" else EmailSent
    message_id = read.payload.get("message_id")
    thread = thread_key(
        message_id, read.in_reply_to_raw, read.references_raw, read.payload.get("subject", "")[:MAX_SUBJECT_CHARS], read.contact,
        fallback=read.fingerprint[:32],
    )
    natural_key = ("message-id", message_id) if message_id else ("content",)
    event = event_type(
        event_id=event_id_for(event_type.model_fields["type"].default, *natural_key, read.fingerprint),
        occurred_at=received_at,
        recorded_at=recorded_at or received_at,
        source=f"imap:{mailbox}",
        contact=ContactIdentifiers(email=read.contact),
        historic=historic_before is not None and received_at < historic_before,
        payload=EmailPayload(
            **read.payload,
            position=MailboxPosition(mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, uid=uid),
            raw=raw_blob,
            content_hash=hashlib.sha256(raw).hexdigest(),
            thread_key=thread.key,
            thread_evidence=thread.evidence,
        ),
    )
    return _within_size(event, blobs)


@dataclass
class _ReadMail:
    payload: dict[str, Any]  # the EmailPayload fields the message itself provides
    contact: str | None  # the customer's address
    fingerprint: str  # what identifies the content (see the module docstring)
    in_reply_to_raw: str = ""
    references_raw: str = ""


class _ReusingHeaderRegistry(HeaderRegistry):
    """policy.default parses a header again on every access (Content-Type is read a dozen
    times per message); header objects are immutable, so the parsed ones are reused."""

    def __call__(self, name: str, value: str) -> BaseHeader:  # type: ignore[override]
        if len(value) > 2048:  # rare, and not worth keeping in memory
            if len(value) > LONG_TEXT_HEADER and issubclass(self[name], UnstructuredHeader):
                value = value[:LONG_TEXT_HEADER]
            return super().__call__(name, value)
        return self._parsed(name, value)

    @functools.lru_cache(maxsize=512)  # one registry lives as long as the process
    def _parsed(self, name: str, value: str) -> BaseHeader:
        return super().__call__(name, value)


MAIL_POLICY = policy.default.clone(header_factory=_ReusingHeaderRegistry(), message_factory=IndexedMessage)


def _read(raw: bytes, direction: Direction, blobs: BlobSink) -> _ReadMail:
    msg = BytesParser(policy=MAIL_POLICY).parsebytes(raw)
    if not msg.keys():
        return _read_leniently(raw, "no RFC 5322 header found")
    full_subject = header_text(msg, "Subject")  # the event cuts it to its limit and records the cut
    subject = full_subject[:MAX_SUBJECT_CHARS]
    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    to, cc = _addresses(msg, "To"), _addresses(msg, "Cc")
    sender_email = senders[0].email if senders else None
    verdict = classify(msg, sender_email, subject, (senders[0].name or "") if senders else "")
    body = read_body(msg, blobs)
    defects = list(body.defects)
    payload = dict(
        message_id=first_message_id(header_text(msg, "Message-ID")),
        in_reply_to=first_message_id(header_text(msg, "In-Reply-To")),
        references=_capped_references(message_ids(header_text(msg, "References"))),
        sender=senders[0] if senders else None,
        to=tuple(to),
        cc=tuple(cc),
        reply_to=tuple(_addresses(msg, "Reply-To")),
        subject=full_subject,
        date=_date(msg, defects),
        **_body_fields(body, blobs),
        attachments=body.attachments,
        classification=verdict.classification,
        classification_reasons=verdict.reasons,
        bounced_message_id=verdict.bounced_message_id,
        bounced_recipients=verdict.bounced_recipients,
        delayed_recipients=verdict.delayed_recipients,
        defects=tuple(defects),
    )
    return _ReadMail(
        payload=payload,
        contact=_customer_address(direction, sender_email, to, cc, verdict),
        fingerprint=_fingerprint(raw, senders, to, cc, subject, header_text(msg, "Date")),
        in_reply_to_raw=header_text(msg, "In-Reply-To"),
        references_raw=header_text(msg, "References"),
    )


def _read_leniently(raw: bytes, error: str) -> _ReadMail:
    """What can still be said about a message the parser could not read."""
    headers = _lenient_headers(raw)
    sender = normalise_email(headers.get("from"))
    payload = dict(
        message_id=first_message_id(headers.get("message-id", "")),
        in_reply_to=first_message_id(headers.get("in-reply-to", "")),
        references=_capped_references(message_ids(headers.get("references", ""))),
        sender=Address(email=sender) if sender else None,
        subject=headers.get("subject", "")[:MAX_SUBJECT_CHARS],
        parse_error=error,
    )
    return _ReadMail(
        payload=payload,
        contact=sender,
        fingerprint=hashlib.sha256(raw).hexdigest(),
        in_reply_to_raw=headers.get("in-reply-to", ""),
        references_raw=headers.get("references", ""),
    )


def _lenient_headers(raw: bytes) -> dict[str, str]:
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0][:65536]
    text = head.decode("utf-8", errors="replace")
    found: dict[str, str] = {}
    for match in re.finditer(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*(?:\r?\n[ \t].*)*)", text, re.MULTILINE):
        found.setdefault(match.group(1).lower(), re.sub(r"\s+", " ", match.group(2)).strip())
    return found


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    raw = raw_values(msg, name)
    if not raw:
        return []
    if sum(map(len, raw)) > LONG_ADDRESS_HEADER:
        # the email package needs minutes for tens of thousands of addresses
        pairs = [(_decoded(display), spec) for display, spec in getaddresses(raw)]
    else:
        try:
            header = msg.get(name)
            pairs = [] if header is None else [(a.display_name, a.addr_spec) for a in header.addresses]
        except Exception:  # malformed address list: fall back to the lenient parser of email.utils
            pairs = [(_decoded(display), spec) for display, spec in getaddresses(raw)]
    found: dict[str, Address] = {}
    for display_name, spec in pairs:
        email = normalise_email(repair(spec or ""))
        if email and email not in found:
            found[email] = Address(email=email, name=repair(display_name or "").strip() or None)
            if len(found) == MAX_ADDRESSES:
                break
    return list(found.values())


def _decoded(words: str) -> str:
    try:
        return str(make_header(decode_header(words)))
    except Exception:
        return words


def _date(msg: EmailMessage, defects: list[str]) -> datetime | None:
    text = header_text(msg, "Date")
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        defects.append(f"unreadable Date header {text[:60]!r}")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 2200:
        defects.append(f"implausible Date header {text[:60]!r}")
        return None
    return value


def _capped_references(refs: list[str]) -> tuple[str, ...]:
    # the root and the most recent ids matter; the middle of a very long chain does not
    if len(refs) <= MAX_REFERENCES:
        return tuple(refs)
    return (refs[0], *refs[-(MAX_REFERENCES - 1):])


def _body_fields(body: Body, blobs: BlobSink) -> dict:
    text, html = body.text, body.html
    if (text is None or len(text) <= MAX_TEXT_CHARS) and (html is None or len(html) <= MAX_HTML_CHARS):
        return dict(text=text, html=html)
    full = html if html is not None and len(html) > MAX_HTML_CHARS else text
    kind = "text/html" if full is html else "text/plain"
    return dict(
        text=None if text is None else text[:MAX_TEXT_CHARS],
        html=None if html is None else html[:MAX_HTML_CHARS],
        body_truncated=True,
        full_body=blobs.put(full.encode("utf-8"), f"{kind}; charset=utf-8"),
    )


def _customer_address(
    direction: Direction, sender: str | None, to: list[Address], cc: list[Address], verdict: Verdict
) -> str | None:
    failed = verdict.bounced_recipients or verdict.delayed_recipients
    if verdict.classification == "bounce" and failed:
        return failed[0]  # the bounce belongs on the timeline of the customer it failed to reach
    if direction == "incoming":
        return sender
    recipients = to or cc
    return recipients[0].email if recipients else None


def _fingerprint(raw: bytes, senders: list[Address], to: list[Address], cc: list[Address], subject: str, date: str) -> str:
    parts = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    body = parts[1] if len(parts) == 2 else b""
    body = normalised_body(body)
    head = "\x1f".join([
        ",".join(a.email for a in senders), ",".join(a.email for a in to), ",".join(a.email for a in cc), subject, date,
    ])
    return hashlib.sha256(head.encode("utf-8", errors="surrogateescape") + b"\x00" + body).hexdigest()


def normalised_body(body: bytes) -> bytes:
    """Line ends as LF without the blanks before them, no trailing whitespace: the bytes that
    re.sub(rb"[ \t]*\r?\n", b"\n", body).rstrip() gives, which the event ids of mails already
    captured were made with, in a tenth of the time."""
    return b"\n".join([line.rstrip(b" \t") for line in body.replace(b"\r\n", b"\n").split(b"\n")]).rstrip()


class EventTooLarge(ValueError):
    """Even without bodies the event does not fit in a Kafka record (a dead letter, raw kept)."""


def _within_size(event: EmailReceived | EmailSent, blobs: BlobSink) -> EmailReceived | EmailSent:
    """Cuts bodies until the encoded event fits in a Kafka record; the whole body stays stored.
    Then, for pathological mails, long recipient and attachment lists are shortened."""
    payload = event.payload
    size = len(encode(event))  # most mail fits at once: one encoding, no copies
    while size > MAX_EVENT_BYTES and (payload.text or payload.html):
        text, html = payload.text, payload.html
        full = payload.full_body or blobs.put(
            (html or text or "").encode("utf-8"), "text/html; charset=utf-8" if html else "text/plain; charset=utf-8"
        )
        update = {"html": html[: len(html) // 2] or None} if html else {"text": (text or "")[: len(text or "") // 2] or None}
        payload = payload.model_copy(update={**update, "body_truncated": True, "full_body": full})
        event = event.model_copy(update={"payload": payload})
        size = len(encode(event))
    if size > MAX_EVENT_BYTES:
        payload = payload.model_copy(update={
            "to": payload.to[:10], "cc": payload.cc[:10], "reply_to": payload.reply_to[:10],
            "attachments": payload.attachments[:50], "references": payload.references[:1] + payload.references[-9:],
            "classification_reasons": payload.classification_reasons[:10], "defects": (
                *payload.defects[:10], "recipient, attachment and reference lists shortened to fit a Kafka record",
            ),
        })
        event = event.model_copy(update={"payload": payload})
        size = len(encode(event))
    if size > MAX_EVENT_BYTES:
        raise EventTooLarge(f"the event needs {size} bytes even without bodies; the limit is {MAX_EVENT_BYTES}")
    return event


__all__ = ["MAX_EVENT_BYTES", "EventTooLarge", "parse_message"]
