"""Constant-time comparison of secrets, tokens and signatures as bytes.

`hmac.compare_digest` raises TypeError for `str` values that are not ASCII, and header values
are decoded as Latin-1, so a caller could turn a wrong signature into a server error. Both
sides are compared as UTF-8 bytes instead (lone surrogates passed through, never an error)."""

from __future__ import annotations

import hmac


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def same_secret(expected: str | bytes, given: str | bytes | None) -> bool:
    """True when `given` equals `expected`; False for None, whatever characters either holds."""
    if given is None:
        return False
    return hmac.compare_digest(as_bytes(expected), as_bytes(given))
