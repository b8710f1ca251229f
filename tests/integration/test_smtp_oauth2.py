"""The notifier's SMTP sign-in with OAuth 2.0 (`[smtp] auth = "oauth2"`): aiosmtpd with an
XOAUTH2 authenticator that checks each token at the local authorization server."""

from __future__ import annotations

import base64
import json
import logging
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from services.notifier.delivery import PermanentDeliveryError, SmtpMailer
from shared.config import Smtp
from shared.oauth2.refresh_tokens import store_refresh_token
from tests.infra.oauth_server import OAuthServer
from tests.integration.notifier_peers import SmtpPeer
from tests.integration.oauth_peers import lines_naming_any, oauth_server  # noqa: F401

pytestmark = pytest.mark.integration
SENDER = "touchpoint@shop.example"


class XOAuth2SmtpPeer(SmtpPeer):
    """Accepts AUTH XOAUTH2 with a live token issued for the signing-in user, nothing else."""

    def __init__(self, tokens: OAuthServer) -> None:
        super().__init__()
        self.tokens = tokens
        self.sign_ins: list[bool] = []

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 (aiosmtpd's hook name)
        fields = dict(part.split("=", 1) for part in base64.b64decode(args[1]).decode().split("\x01") if part)
        issued = self.tokens.access_tokens.get(fields.get("auth", "").removeprefix("Bearer "))
        ok = bool(issued and not issued.revoked and time.time() < issued.expires_at and issued.username == fields.get("user"))
        self.sign_ins.append(ok)
        if not ok:  # as Gmail and Exchange do: an error challenge, the client's empty answer, then 535
            await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}).encode())
        return AuthResult(success=ok, handled=False, auth_data=fields.get("user"))

    def start(self) -> XOAuth2SmtpPeer:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, auth_require_tls=False)
        self._controller.start()
        return self


@pytest.fixture
def smtp_peer(oauth_server):
    peer = XOAuth2SmtpPeer(oauth_server).start()
    yield peer
    peer.stop()


def escalation(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "leads@shop.example", f"SLA breached {n}"
    message["Message-ID"] = f"<escalation-{n}@shop.example>"
    message.set_content("A complaint breached its first-response SLA.")
    return message


def smtp_config(peer: XOAuth2SmtpPeer, client_id: str, secret: str, **overrides: object) -> Smtp:
    fields: dict[str, object] = {
        "host": "127.0.0.1", "port": peer.port, "security": "plain", "sender": SENDER, "username": SENDER,
        "auth": "oauth2", "provider": "generic", "token_url": peer.tokens.token_url, "client_id": client_id,
        "client_secret": secret,
    }
    return Smtp(**{**fields, **overrides})


async def nothing() -> None:
    pass


async def test_the_notifier_delivers_over_smtp_signed_in_with_xoauth2(oauth_server, smtp_peer, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    client_id, secret = oauth_server.add_client(SENDER)
    mailer = SmtpMailer(smtp_config(smtp_peer, client_id, secret))

    await mailer.send(escalation(1), nothing)
    oauth_server.revoke_access_tokens(client_id)  # refused next time: refreshed once, AUTH tried again
    await mailer.send(escalation(2), nothing)

    assert smtp_peer.message_ids() == ["<escalation-1@shop.example>", "<escalation-2@shop.example>"]
    assert smtp_peer.sign_ins == [True, False, True]
    assert oauth_server.grants_of(client_id) == ["client_credentials", "client_credentials"]
    records = [r for r in caplog.records if not r.name.startswith("mail.")]  # aiosmtpd's own log is the peer's
    assert lines_naming_any(records, capfd.readouterr().err, oauth_server.secrets_of(client_id)) == []


async def test_a_revoked_refresh_token_fails_the_delivery_with_the_providers_words(oauth_server, smtp_peer, tmp_path):
    client_id, secret = oauth_server.add_client(SENDER)
    store_refresh_token(tmp_path / "smtp.refresh", oauth_server.grant_refresh_token(client_id))
    oauth_server.revoke_refresh_tokens(client_id)
    mailer = SmtpMailer(smtp_config(smtp_peer, client_id, secret, refresh_token_file=tmp_path / "smtp.refresh"))

    with pytest.raises(PermanentDeliveryError, match="invalid_grant: Token has been expired or revoked"):
        await mailer.send(escalation(3), nothing)
    assert smtp_peer.messages == [] and smtp_peer.sign_ins == []
