"""Login sessions of the web pages: a signed cookie naming either a password user (by name and
account epoch, checked against the users table on every request) or the token (by an HMAC of it keyed
with the session secret, so a token removed from the configuration ends its sessions and the
cookie tells nothing about the token) plus a session id (revoked server-side at logout, see
`revocations.py`) and a per-session CSRF token.

The cookie is `HttpOnly`, `Secure` and `SameSite=Lax`; every state-changing request made with it
must also carry the CSRF token (form field `csrf_token` or header `X-CSRF-Token`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from services.projector.api.auth import Principal
from shared.config import Settings
from shared.digests import as_bytes, same_secret

COOKIE = "touchpoint_session"
LOGIN_COOKIE = "touchpoint_login"
MAX_AGE = 12 * 3600
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    id: str = ""
    expires_at: int = 0


class SessionCodec:
    """Signs and reads session cookies; `secret` comes from `[auth] session_secret` or is drawn
    at start-up (then a restart of the API ends every session)."""

    def __init__(self, settings: Settings, now=time.time) -> None:  # type: ignore[no-untyped-def]
        configured = settings.file.auth.session_secret
        secret = (configured.get_secret_value() if configured else secrets.token_hex(32)).encode()
        # one key per purpose, both derived from the one secret
        self._key = hmac.new(secret, b"touchpoint cookie signature", hashlib.sha256).digest()
        self._token_key = hmac.new(secret, b"touchpoint token fingerprint", hashlib.sha256).digest()
        self._principals = {self.fingerprint(t.token.get_secret_value()): Principal.from_token(t)
                            for t in settings.file.auth.tokens}
        self._now = now

    def fingerprint(self, token: str) -> str:
        """What the cookie holds instead of the token: an HMAC of it under the session secret."""
        return hmac.new(self._token_key, as_bytes(token), hashlib.sha256).hexdigest()[:32]

    def sign(self, data: bytes) -> str:
        mac = hmac.new(self._key, data, hashlib.sha256).digest()
        return f"{_b64(data)}.{_b64(mac)}"

    def unsign(self, value: str) -> bytes | None:
        body, _, mac = value.partition(".")
        try:
            data, given = _unb64(body), _unb64(mac)
        except ValueError:
            return None
        expected = hmac.new(self._key, data, hashlib.sha256).digest()
        return data if hmac.compare_digest(expected, given) else None

    def issue(self, token: str) -> str | None:
        """The cookie value for a login with `token`, or None when the token is unknown."""
        print_ = self.fingerprint(token)
        if print_ not in self._principals:
            return None
        return self._issue({"t": print_})

    def issue_for_account(self, name: str, epoch: int) -> str:
        """The cookie value for a password login: the user's name and the epoch of their account
        (a password change or disable raises it, ending the sessions issued before)."""
        return self._issue({"u": name, "g": epoch})

    def _issue(self, who: dict[str, object]) -> str:
        payload = {**who, "s": secrets.token_urlsafe(18), "c": secrets.token_urlsafe(24), "e": int(self._now()) + MAX_AGE}
        return self.sign(json.dumps(payload, separators=(",", ":")).encode())

    def read(self, cookie: str | None) -> Session | None:
        """The session of a token login; None for anything else (see `account_claim`)."""
        payload = self._payload(cookie)
        try:
            principal = self._principals.get(payload["t"]) if payload else None
            if payload is None or principal is None:
                return None
            return Session(principal, payload["c"], str(payload["s"]), int(payload["e"]))
        except (ValueError, KeyError, TypeError):
            return None

    def account_claim(self, cookie: str | None) -> AccountClaim | None:
        """What a password login's cookie says; the account behind it is checked by the caller."""
        payload = self._payload(cookie)
        try:
            if payload is None or not isinstance(payload.get("u"), str):
                return None
            return AccountClaim(payload["u"], int(payload["g"]), payload["c"], str(payload["s"]), int(payload["e"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _payload(self, cookie: str | None) -> dict | None:  # type: ignore[type-arg]
        data = self.unsign(cookie) if cookie else None
        if data is None:
            return None
        try:
            payload = json.loads(data)
            return payload if isinstance(payload, dict) and int(payload["e"]) >= self._now() else None
        except (ValueError, KeyError, TypeError):
            return None

    def login_token(self) -> tuple[str, str]:
        """A CSRF token for the login form and its signed cookie (double submit)."""
        value = secrets.token_urlsafe(24)
        return value, self.sign(value.encode())

    def login_token_matches(self, cookie: str | None, submitted: str | None) -> bool:
        data = self.unsign(cookie) if cookie else None
        return bool(data and submitted) and same_secret(data, submitted)


@dataclass(frozen=True)
class AccountClaim:
    name: str
    epoch: int
    csrf: str
    id: str
    expires_at: int


def csrf_matches(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and same_secret(session.csrf, submitted)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
