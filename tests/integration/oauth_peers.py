"""Real peers for the OAuth 2.0 tests: the local authorization server (tests/infra/oauth_server.py)
and a Dovecot whose `oauth2` passdb asks it about every token; an account there has a password
(for the test to deliver mail) and an OAuth client whose tokens open it."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from shared.config import Mailbox
from tests.infra.dovecot import Dovecot, start_dovecot
from tests.infra.oauth_server import OAuthServer


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[OAuthServer]:
    server = OAuthServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(session_dir: Path, oauth_server: OAuthServer) -> Iterator[Dovecot]:
    server = start_dovecot(session_dir, oauth2_introspection_url=f"{oauth_server.base_url}/introspect")
    yield server
    server.stop()


@dataclass
class OAuthAccount:
    dovecot: Dovecot
    server: OAuthServer
    username: str
    password: str
    client_id: str
    client_secret: str

    def mailbox(self, name: str | None = None, **overrides: object) -> Mailbox:
        """An app-only (client credentials) mailbox config; `refresh_token_file` makes it a consent flow."""
        fields: dict[str, object] = {
            "name": name or f"mb{self.username}", "host": self.dovecot.host, "port": self.dovecot.port,
            "security": "plain", "username": self.username, "auth": "oauth2", "provider": "generic",
            "token_url": self.server.token_url, "client_id": self.client_id, "client_secret": self.client_secret,
            "poll_interval": 300,
        }
        return Mailbox(**{**fields, **overrides})

    def deliver(self, folder: str, count: int, start: int = 0) -> None:
        with IMAPClient(self.dovecot.host, port=self.dovecot.port, ssl=False, timeout=30) as client:
            client.login(self.username, self.password)
            for n in range(start, start + count):
                message = EmailMessage()
                message["From"] = f"customer{n}@example.org"
                message["To"] = "support@shop.example"
                message["Subject"] = f"Order {n}"
                message["Message-ID"] = f"<oauth-{self.username}-{n}@example.org>"
                message.set_content(f"Where is order {n}?")
                client.append(folder, message.as_bytes())

    def secrets(self) -> list[str]:
        """Its client secret, every token issued for it, and each token as a SASL XOAUTH2 answer."""
        found = self.server.secrets_of(self.client_id)
        sasl = [f"user={self.username}\x01auth=Bearer {token}\x01\x01" for token in self.server.issued_for(self.client_id)]
        return found + [base64.b64encode(answer.encode()).decode() for answer in sasl]


def new_account(dovecot: Dovecot, server: OAuthServer, lifetime: float = 3600.0) -> OAuthAccount:
    username, password = dovecot.add_user()
    client_id, secret = server.add_client(username, lifetime=lifetime)
    return OAuthAccount(dovecot, server, username, password, client_id, secret)


def lines_naming_any(records: list[logging.LogRecord], text: str, secrets: list[str]) -> list[str]:
    """Log output (records and captured streams) that contains any of `secrets`."""
    lines = [record.getMessage() + " " + str(getattr(record, "fields", "")) for record in records]
    lines += text.splitlines()
    return [line for line in lines if any(secret in line for secret in secrets)]
