"""Access tokens for one mailbox or SMTP account, fetched with Authlib's OAuth 2.0 client:
client credentials (app-only) or the stored refresh token (after a user's consent).

A token is handed out until shortly before it expires (a fifth of its lifetime, at most a
minute), so connections opened with it have time to sign in. A token the mail server refused
is dropped with `refused()`, and the next call fetches a new one. A rotated refresh token is
stored at once. One `TokenSource` is shared by all connections of its account (thread-safe),
so they refresh together and never race to rotate the refresh token."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from shared.config import OAuth2SignIn
from shared.oauth2.diagnosis import first_line, token_error_advice
from shared.oauth2.errors import ConsentMissing, TokenEndpointUnavailable, TokenRefused
from shared.oauth2.providers import Endpoints, endpoints_for
from shared.oauth2.refresh_tokens import RefreshTokenMissing, read_refresh_token, store_refresh_token

log = logging.getLogger(__name__)

MAX_LEEWAY_S = 60.0
DEFAULT_LIFETIME_S = 3600.0


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    issued_at: float
    expires_at: float

    def usable_at(self, now: float) -> bool:
        leeway = min(MAX_LEEWAY_S, (self.expires_at - self.issued_at) / 5)
        return now < self.expires_at - leeway

    def renew_at(self) -> float:
        """When a connection signed in with this token should sign in anew."""
        return self.expires_at - min(MAX_LEEWAY_S, (self.expires_at - self.issued_at) / 5)


class TokenSource:
    def __init__(
        self,
        config: OAuth2SignIn,
        account: str,
        clock: Callable[[], float] = time.time,
        timeout: float = 15.0,
    ) -> None:
        self.config = config
        self.account = account  # names the account in messages: "mailbox support", "smtp"
        self.endpoints: Endpoints = endpoints_for(config)
        self.clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def access_token(self) -> AccessToken:
        """A token valid for a while yet; blocks while fetching. Raises SignInError."""
        with self._lock:
            if self._token is None or not self._token.usable_at(self.clock()):
                self._token = self._fetch()
            return self._token

    def refused(self, token: AccessToken) -> None:
        """The server refused `token`: the next `access_token()` asks the provider again."""
        with self._lock:
            if self._token is token:
                self._token = None

    def _client(self) -> OAuth2Session:
        c = self.config
        secret = c.client_secret.get_secret_value() if c.client_secret else None
        return OAuth2Session(
            client_id=c.client_id, client_secret=secret, scope=" ".join(self.endpoints.scopes),
            token_endpoint_auth_method=self.endpoints.client_auth if secret else "none", default_timeout=self._timeout,
        )

    def _fetch(self) -> AccessToken:
        url = self.endpoints.token_url
        stored = None
        if not self.config.app_only:
            assert self.config.refresh_token_file is not None
            try:
                stored = read_refresh_token(self.config.refresh_token_file)
            except RefreshTokenMissing as exc:
                raise ConsentMissing(f"consent missing ({exc}): run touchpoint mailbox authorize") from None
        issued_at = self.clock()
        try:
            with self._client() as client:
                if stored is None:
                    raw = client.fetch_token(url, grant_type="client_credentials")
                else:
                    raw = client.refresh_token(url, refresh_token=stored)
        except OAuthError as exc:
            description = first_line(exc.description)
            raise TokenRefused(exc.error, description, token_error_advice(exc.error, exc.description or "")) from None
        except (requests.RequestException, ValueError) as exc:
            raise TokenEndpointUnavailable(f"token endpoint {url}: {type(exc).__name__}: {first_line(str(exc))}") from None
        if "access_token" not in raw:
            raise TokenEndpointUnavailable(f"token endpoint {url} answered without an access_token")
        rotated = raw.get("refresh_token")
        if stored is not None and rotated and rotated != stored:
            assert self.config.refresh_token_file is not None
            store_refresh_token(self.config.refresh_token_file, rotated)
            log.info("%s: stored the new refresh token the provider issued", self.account)
        lifetime = float(raw.get("expires_in") or DEFAULT_LIFETIME_S)
        return AccessToken(value=raw["access_token"], issued_at=issued_at, expires_at=issued_at + lifetime)
