"""Reading headers of a parsed message without ever raising: a header the email package
cannot parse is read raw (folded lines joined, 8-bit bytes repaired)."""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import EmailMessage

from services.ingest.imap.charsets import repair

_MSGID = re.compile(r"<[^<>\s]+>")


def raw_values(msg: EmailMessage, name: str) -> list[str]:
    wanted = name.lower()
    return [repair(re.sub(r"\r?\n[ \t]+", " ", str(value))).strip() for key, value in msg.raw_items() if key.lower() == wanted]


def header_text(msg: EmailMessage, name: str) -> str:
    """The first `name` header decoded (RFC 2047 words resolved), "" when absent."""
    try:
        value = msg.get(name)
        text = "" if value is None else repair(str(value)).strip()
    except Exception:  # the header classes raise on some malformed input; read it raw instead
        text = "\ufffd"
    if "\ufffd" not in text:
        return text
    # raw 8-bit bytes in the header: the email package replaced them; decode them ourselves
    raw = raw_values(msg, name)
    if not raw:
        return text
    try:
        return str(make_header(decode_header(raw[0]))).strip() if "=?" in raw[0] else raw[0]
    except Exception:
        return raw[0]


def has_header(msg: EmailMessage, name: str) -> bool:
    return bool(raw_values(msg, name))


def message_ids(value: str) -> list[str]:
    """Message-IDs in a References / In-Reply-To / Message-ID value, in order, deduplicated."""
    found: list[str] = []
    for msgid in _MSGID.findall(value or ""):
        if msgid not in found:
            found.append(msgid)
    return found


def first_message_id(value: str) -> str | None:
    """A Message-ID as written; a bare id without angle brackets gets them."""
    ids = message_ids(value)
    if ids:
        return ids[0]
    bare = (value or "").strip()
    return f"<{bare}>" if bare and " " not in bare and "@" in bare else None
