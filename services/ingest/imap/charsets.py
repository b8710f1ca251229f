"""Turning mail bytes into text without ever failing: declared charsets are tried first,
unknown or lying ones fall back to UTF-8 and then Windows-1252 (which maps every byte)."""

from __future__ import annotations

import codecs

# Mail that declares Latin-1 or ASCII is very often really Windows-1252 (curly quotes, the
# euro sign in 0x80-0x9f); browsers decode it that way too.
_SUPERSET = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254"}
_LEGACY_SINGLE_BYTE = {"cp1252", "cp1254", "iso8859-15", "iso8859-2"}
_NO_CHARSET = {"", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "binary"}


def codec_name(declared: str | None) -> str | None:
    """Python's codec for a declared MIME charset, or None when it is unknown."""
    label = (declared or "").strip().strip('"').lower()
    if label in _NO_CHARSET:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSET.get(name, name)


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """(text, problem): `problem` says what was wrong with the charset, None when nothing was."""
    name = codec_name(declared)
    if name in _LEGACY_SINGLE_BYTE and not data.isascii():
        # UTF-8 labelled as Latin-1 is common; genuine Latin-1 text is practically never valid UTF-8
        try:
            return data.decode("utf-8"), f"declared {declared} but is UTF-8"
        except UnicodeDecodeError:
            pass
    if name is not None:
        try:
            return data.decode(name), None
        except (UnicodeDecodeError, LookupError):  # LookupError: codecs such as "uu" are not text
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, None if not (declared or "").strip() else f"charset {declared!r} did not fit; read as UTF-8"
    if name is not None:
        try:
            return data.decode(name, errors="replace"), f"bytes invalid in {declared} were replaced"
        except LookupError:
            pass
    return data.decode("cp1252", errors="replace"), f"charset {declared or '(none)'!r} unknown or wrong; read as Windows-1252"


def repair(text: str) -> str:
    """Header text with raw 8-bit bytes (kept by the email package as surrogate escapes)
    decoded as UTF-8, else Windows-1252."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    raw = text.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
