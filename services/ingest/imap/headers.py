"""Reading headers of a parsed message without ever raising: a header the email package
cannot parse is read raw (folded lines joined, 8-bit bytes repaired)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

from services.ingest.imap.charsets import repair

_MSGID = re.compile(r"<[^<>\s]+>")


_FOLD = re.compile(r"\r?\n[ \t]+")
_ABSENT: Any = object()


class IndexedMessage(EmailMessage):
    """An EmailMessage that looks each header up once: a parse reads Content-Type a dozen
    times per part and our readers a handful of headers several times, and the stock lookup
    scans (and lower-cases) every header on each access. Parsed messages are not changed
    afterwards; a header added while the parser is still at work empties the index."""

    _indexed_count = -1

    def _index(self) -> dict[str, list[tuple[str, Any]]]:
        if self._indexed_count != len(self._headers):
            self._by_name: dict[str, list[tuple[str, Any]]] = {}
            for key, raw in self._headers:
                self._by_name.setdefault(key.lower(), []).append((key, raw))
            self._fetched: dict[str, Any] = {}
            self._raw: dict[str, list[str]] = {}
            self._content_types: dict[str, str] = {}  # by default type (it differs in a digest)
            self._indexed_count = len(self._headers)
        return self._by_name

    def get(self, name: str, failobj: Any = None) -> Any:
        by_name = self._index()
        wanted = name.lower()
        value = self._fetched.get(wanted, _ABSENT)
        if value is _ABSENT:
            found = by_name.get(wanted)
            value = self._fetched[wanted] = None if found is None else self.policy.header_fetch_parse(*found[0])
        return failobj if value is None else value

    def get_content_type(self) -> str:
        # asked a dozen times per part while the parser and our readers walk the message
        self._index()
        key = self._default_type
        found = self._content_types.get(key)
        if found is None:
            found = self._content_types[key] = super().get_content_type()
        return found

    def raw_values(self, name: str) -> list[str]:
        by_name = self._index()
        wanted = name.lower()
        values = self._raw.get(wanted)
        if values is None:
            values = self._raw[wanted] = _unfolded(by_name.get(wanted, ()), wanted)
        return values


def _unfolded(items: Iterable[tuple[str, Any]], wanted: str) -> list[str]:
    return [repair(_FOLD.sub(" ", str(value))).strip() for key, value in items if key.lower() == wanted]


def raw_values(msg: EmailMessage, name: str) -> list[str]:
    if isinstance(msg, IndexedMessage):
        return msg.raw_values(name)
    return _unfolded(msg.raw_items(), name.lower())


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
