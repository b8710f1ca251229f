"""Normalising contact identifiers the same way everywhere (adapters, master data import,
lookups): lower-cased email addresses and E.164 phone numbers."""

from __future__ import annotations

import functools
import re
from email.utils import parseaddr

import phonenumbers

from events.text import LIMITS

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WITHHELD = {"", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld", "+anonymous"}


def normalise_email(raw: str | None) -> str | None:
    """`"Erika <Erika@Example.ORG>"` -> `erika@example.org`; None when it is no address."""
    if not raw:
        return None
    # the same senders write again and again, and parseaddr is slow; long input is not kept
    return _normalised_email(raw) if len(raw) <= 1000 else _normalised_email.__wrapped__(raw)


@functools.lru_cache(maxsize=4096)
def _normalised_email(raw: str) -> str | None:
    _, address = parseaddr(raw.strip())
    address = address.strip().lower()
    # longer than SMTP allows: no address (an event would cut it, and the cut is no address either)
    return address if len(address) <= LIMITS["address"] and _EMAIL.match(address) else None


def normalise_phone(raw: str | None, default_region: str | None = None) -> str | None:
    """E.164 for a number as people and PBXs write it: `+49 30 1234-56`, `0049301234`,
    `030/123456` (with a default region), `4930123456` (international without `+`, as some
    CTI providers send it). None for withheld or unparseable numbers."""
    if raw is None:
        return None
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return None
    digits = re.sub(r"[^\d+]", "", text)
    if not digits or not digits.lstrip("+").isdigit():
        return None
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        return _format(digits, None, strict=False)
    if digits.startswith("0"):
        return _format(digits, default_region, strict=False) if default_region else None
    # Digits without a trunk prefix: international without the plus, as CTI providers send
    # it, when that is a valid number; else a national number of the default region.
    return _format("+" + digits, None, strict=True) or (
        _format(digits, default_region, strict=False) if default_region else None
    )


def _format(candidate: str, region: str | None, strict: bool) -> str | None:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None
