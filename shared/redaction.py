"""Secrets that must never be printed: the database password above all, which sits inside a
URL that is easy to log by accident. The loaded settings register it here; log lines and the
command line's error messages pass through `redact` before they are written."""

from __future__ import annotations

import re
from urllib.parse import unquote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"
_hidden: set[str] = set()


def hide(secret: str | None) -> None:
    """Registers a secret to be masked wherever it would be printed."""
    if secret and len(secret) >= 3:
        _hidden.add(secret)


def redact(text: str) -> str:
    for secret in _hidden:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_USERINFO_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")


def hide_url_password(url: str) -> None:
    """Registers the URL's password both as written (percent-encoded) and decoded."""
    written = _USERINFO_PASSWORD.search(url)
    if written:
        hide(written.group(1))
        hide(unquote(written.group(1)))


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password masked (and unparsable URLs not at all)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(a database URL that cannot be parsed)"
