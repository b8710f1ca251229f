"""The readable body of a message (plain text, HTML, a text rendering of HTML-only mail) and
its attachments, which go to the blob store; only their references travel in the event."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from events.envelope import StoredBlob
from services.ingest.imap.charsets import decode_bytes, repair
from services.ingest.imap.html_text import html_to_text
from shared.blobs import BlobSink

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class Body:
    text: str | None = None
    html: str | None = None
    attachments: tuple[StoredBlob, ...] = ()
    defects: list[str] = field(default_factory=list)


def read_body(msg: EmailMessage, blobs: BlobSink) -> Body:
    body = Body()
    plain_part = _body_part(msg, "plain")
    html_part = _body_part(msg, "html")
    if plain_part is not None:
        body.text = _text_of(plain_part, body.defects)
    if html_part is not None:
        body.html = _text_of(html_part, body.defects)
        if body.text is None:
            body.text = html_to_text(body.html)
    attachments = []
    for part in _leaves(msg):
        if part is plain_part or part is html_part:
            continue
        if _is_inline_text(part) and body.text is not None and plain_part is not None:
            # mail clients split one body around inline images; keep the pieces readable
            body.text += "\n\n" + _text_of(part, body.defects)
            continue
        attachments.append(_store(part, blobs, body.defects))
    body.attachments = tuple(attachments)
    return body


def _body_part(msg: EmailMessage, subtype: str) -> EmailMessage | None:
    try:
        part = msg.get_body(preferencelist=(subtype,))
    except Exception:
        part = None
    if part is None and not msg.is_multipart() and msg.get_content_type() == f"text/{subtype}":
        part = msg  # a single-part text mail marked as an attachment is still its own body
    return part  # type: ignore[return-value]


def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    """Leaf parts in order, without descending into attached messages (they are attachments)."""
    if part.get_content_maintype() == "multipart" and part.is_multipart():
        for sub in part.iter_parts():
            yield from _leaves(sub)  # type: ignore[arg-type]
    else:
        yield part


def _is_inline_text(part: EmailMessage) -> bool:
    return part.get_content_type() == "text/plain" and part.get_content_disposition() != "attachment" and not _filename(part)


def _text_of(part: EmailMessage, defects: list[str]) -> str:
    data = _payload_bytes(part)
    charset = _charset(part)
    if charset is None and part.get_content_type() == "text/html":
        found = _META_CHARSET.search(data[:4096])
        charset = found.group(1).decode("ascii") if found else None
    text, problem = decode_bytes(data, charset)
    if problem:
        defects.append(problem)
    return text.replace("\r\n", "\n")


def _charset(part: EmailMessage) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _payload_bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() in ("message", "multipart"):
        inner = part.get_payload()
        if isinstance(inner, list):
            try:
                return b"".join(m.as_bytes(policy=policy.SMTP) for m in inner)
            except Exception:
                return b"".join(str(m).encode("utf-8", errors="surrogateescape") for m in inner)
        return str(inner).encode("utf-8", errors="surrogateescape")
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", errors="surrogateescape") if isinstance(payload, str) else b""
    return data


def _filename(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return repair(name).strip()[:255] or None if name else None


def _store(part: EmailMessage, blobs: BlobSink, defects: list[str]) -> StoredBlob:
    content_type = part.get_content_type()
    try:
        data = _payload_bytes(part)
    except Exception as exc:  # an undecodable part is kept as it was written
        defects.append(f"attachment {content_type} kept undecoded: {exc}")
        data = str(part.get_payload()).encode("utf-8", errors="surrogateescape")
    return blobs.put(data, content_type, _filename(part))
