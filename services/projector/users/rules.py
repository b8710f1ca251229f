"""What a user name, role, extension and password must look like. Each rule broken is a
`UserError` whose message says what is wrong and how to fix it."""

from __future__ import annotations

import re

from services.projector.api.auth import ALL_ROLES

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
EXTENSION = re.compile(r"^[0-9*#+]{1,32}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work one login costs


class UserError(ValueError):
    """A request about users that cannot be done as asked (unknown user, weak password, ...)."""


def user_name(name: str) -> str:
    """The name as stored: trimmed and lower-case, so 'Anna' and 'anna' are one person."""
    found = name.strip().lower()
    if not NAME.match(found):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit")
    return found


def role(value: str) -> str:
    if value not in ALL_ROLES:
        raise UserError(f"role {value!r}: choose one of {', '.join(ALL_ROLES)}")
    return value


def extension(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    if not EXTENSION.match(value.strip()):
        raise UserError(f"extension {value!r}: digits only (also * # +), up to 32")
    return value.strip()


def password(name: str, value: str) -> str:
    """A password good enough to keep: long, not the name, not one character repeated."""
    if not value:
        raise UserError("the password is empty")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password is too weak: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    if name.lower() in value.lower():
        raise UserError("the password is too weak: it contains the user name")
    if len(set(value)) < 4:
        raise UserError("the password is too weak: use more than three different characters")
    return value


