"""Handing a notification to its target: mail over SMTP (aiosmtplib) and webhooks (httpx).

Ports with fakes: `Mailer` and `WebhookPoster`. Both raise `TransientDeliveryError` when a
later attempt can succeed (peer down, 4xx SMTP reply, HTTP 5xx/408/429, timeouts) and
`PermanentDeliveryError` when it cannot (5xx SMTP reply, other HTTP 4xx, a bad URL).

`before_handover` is awaited at the last moment before the peer can take the message: for
SMTP after connect, TLS, AUTH, MAIL FROM and RCPT TO, immediately before DATA (a server
discards a transaction whose DATA never completed); for a webhook before the request."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from typing import Protocol

import aiosmtplib
import httpx

from shared.config import Smtp
from shared.oauth2.diagnosis import refused_token_advice
from shared.oauth2.errors import SignInError, TokenEndpointUnavailable
from shared.oauth2.tokens import AccessToken, TokenSource

Handover = Callable[[], Awaitable[None]]


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    """Try again later."""


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help: give up, dead letter, report `escalation.failed`."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage, before_handover: Handover) -> None:
        """Returns once the SMTP server accepted the message (250 after DATA)."""


class WebhookPoster(Protocol):
    async def post(self, url: str, body: dict[str, object], idempotency_key: str, before_handover: Handover) -> None:
        """Returns once the receiver answered 2xx."""


def retry_delay(attempt: int, initial: float, maximum: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before attempt `attempt + 1`: exponential, capped, with jitter in [50 %, 100 %]."""
    ceiling = min(maximum, initial * 2 ** max(0, attempt - 1))
    return ceiling * (0.5 + rand() / 2)


class SmtpMailer:
    def __init__(self, config: Smtp, tokens: TokenSource | None = None) -> None:
        self._config = config
        if tokens is None and config.uses_oauth2:
            tokens = TokenSource(config, "smtp")
        self._tokens = tokens

    def _client(self) -> aiosmtplib.SMTP:
        c = self._config
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.security == "tls",
            start_tls=c.security == "starttls",
            timeout=c.timeout,
            cert_bundle=str(c.ca_file) if c.ca_file else None,
        )

    async def send(self, message: EmailMessage, before_handover: Handover) -> None:
        client = self._client()
        recipients = [address.strip() for address in str(message["To"]).split(",")]
        try:
            await client.connect()
            await self._sign_in(client)
            await client.mail(self._config.sender)
            for recipient in recipients:
                await client.rcpt(recipient)
            await before_handover()
            await client.data(message.as_bytes(policy=SMTP_POLICY))
        except aiosmtplib.SMTPResponseException as exc:
            kind = PermanentDeliveryError if 500 <= exc.code < 600 else TransientDeliveryError
            raise kind(f"SMTP {self._config.host}:{self._config.port} answered {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientDeliveryError(f"SMTP {self._config.host}:{self._config.port}: {exc!r}") from exc
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

    async def _sign_in(self, client: aiosmtplib.SMTP) -> None:
        c = self._config
        if self._tokens is None:
            if c.username and c.password is not None:
                await client.login(c.username, c.password.get_secret_value())
            return
        assert c.username is not None  # the config requires it for auth = "oauth2"
        token = await self._access_token()
        try:
            await client.auth_xoauth2(c.username, token.value)
            return
        except aiosmtplib.SMTPAuthenticationError:
            self._tokens.refused(token)  # refreshed once, then tried again
        token = await self._access_token()
        try:
            await client.auth_xoauth2(c.username, token.value)
        except aiosmtplib.SMTPAuthenticationError as exc:
            advice = refused_token_advice(c, token.value, protocol="SMTP")
            raise PermanentDeliveryError(
                f"SMTP {c.host}:{c.port} refused a freshly issued token for {c.username}: {exc.code} {exc.message} ({advice})"
            ) from None

    async def _access_token(self) -> AccessToken:
        assert self._tokens is not None
        try:
            return await asyncio.to_thread(self._tokens.access_token)
        except TokenEndpointUnavailable as exc:
            raise TransientDeliveryError(f"SMTP sign-in: {exc}") from None
        except SignInError as exc:  # refused by the provider: fixing it takes an operator
            raise PermanentDeliveryError(f"SMTP sign-in: {exc}") from None


class HttpWebhookPoster:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, url: str, body: dict[str, object], idempotency_key: str, before_handover: Handover) -> None:
        try:
            request = self._client.build_request(
                "POST",
                url,
                json=body,
                headers={"Idempotency-Key": idempotency_key, "X-Touchpoint-Notification": idempotency_key},
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise PermanentDeliveryError(f"webhook {url!r} is not a usable URL: {exc}") from exc
        await before_handover()
        try:
            response = await self._client.send(request)
        except httpx.UnsupportedProtocol as exc:
            raise PermanentDeliveryError(f"webhook {url!r}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"webhook {url}: {exc!r}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"webhook {url} answered {status}: {response.text[:200]}"
        if status >= 500 or status in (408, 425, 429):
            raise TransientDeliveryError(detail)
        raise PermanentDeliveryError(detail)


@dataclass
class InMemoryMailer:
    """Fake: keeps the messages; the first `fail_times` sends raise `failure`."""

    sent: list[EmailMessage] = field(default_factory=list)
    fail_times: int = 0
    failure: DeliveryError = field(default_factory=lambda: TransientDeliveryError("fake SMTP is down"))

    async def send(self, message: EmailMessage, before_handover: Handover) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.failure
        await before_handover()
        self.sent.append(message)


@dataclass
class InMemoryWebhooks:
    """Fake: keeps (url, body, key); the first `fail_times` posts raise `failure`."""

    posted: list[tuple[str, dict[str, object], str]] = field(default_factory=list)
    fail_times: int = 0
    failure: DeliveryError = field(default_factory=lambda: TransientDeliveryError("fake receiver answered 500"))

    async def post(self, url: str, body: dict[str, object], idempotency_key: str, before_handover: Handover) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.failure
        await before_handover()
        self.posted.append((url, body, idempotency_key))
