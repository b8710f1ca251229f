"""Which conversation a mail belongs to, decided from the mail alone, with the evidence used:

1. `References`: the first id is the thread's root (RFC 5322 keeps it when shortening).
2. `In-Reply-To`: the mail it answers.
3. A reply-looking subject (Re:, AW:, Fwd:, WG:, Re[2]: ...) without those headers: the
   normalised subject together with the customer's address.
4. A new conversation: its own Message-ID, else subject and address again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from services.ingest.imap.headers import first_message_id, message_ids

_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|antw|fwd?|wg|sv|vs|tr|rif|r|odp|ynt)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*|\[(?:ext|external|extern)\]\s*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ThreadKey:
    key: str
    evidence: str  # references | in_reply_to | subject | message_id | none


def normalise_subject(subject: str) -> str:
    """`"AW: Re[2]: WG:  Order 4711 "` -> `"order 4711"`."""
    text = subject or ""
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).casefold()


def is_reply_subject(subject: str) -> bool:
    return normalise_subject(subject) != " ".join((subject or "").split()).casefold()


def subject_key(subject: str, contact: str | None) -> str:
    digest = hashlib.sha256(f"{normalise_subject(subject)}\x1f{contact or ''}".encode()).hexdigest()[:32]
    return f"subject:{digest}"


def thread_key(
    message_id: str | None, in_reply_to: str, references: str, subject: str, contact: str | None, fallback: str
) -> ThreadKey:
    refs = message_ids(references)
    if refs:
        return ThreadKey(f"msgid:{refs[0]}", "references")
    parent = first_message_id(in_reply_to)
    if parent:
        return ThreadKey(f"msgid:{parent}", "in_reply_to")
    if is_reply_subject(subject) and normalise_subject(subject):
        return ThreadKey(subject_key(subject, contact), "subject")
    if message_id:
        return ThreadKey(f"msgid:{message_id}", "message_id")
    if normalise_subject(subject):
        return ThreadKey(subject_key(subject, contact), "subject")
    return ThreadKey(f"mail:{fallback}", "none")
