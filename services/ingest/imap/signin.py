"""How a connection signs in to its mailbox: LOGIN with a password, or AUTHENTICATE XOAUTH2
with a token from the mailbox's `TokenSource`. Blocking, called on the connection's thread.

A token the server refuses is dropped and `RefusedOnce` raised: the connection opens anew and
signs in once more with a new token (servers may not take a second AUTHENTICATE on the same
connection); a second refusal raises `ServerRefusedToken` with advice read from the token. `login` returns
when the session should be renewed (shortly before its token expires; Exchange Online ends
IMAP sessions whose token expired), or None for password sessions."""

from __future__ import annotations

from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from shared.config import Mailbox
from shared.oauth2.diagnosis import refused_token_advice
from shared.oauth2.errors import ServerRefusedToken
from shared.oauth2.tokens import TokenSource


class RefusedOnce(Exception):
    """The server refused the token; the caller reconnects and calls `login(..., last_try=True)`."""


class SignIn(Protocol):
    def login(self, client: IMAPClient, last_try: bool = False) -> float | None: ...


class PasswordSignIn:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    def login(self, client: IMAPClient, last_try: bool = False) -> float | None:
        assert self.mailbox.password is not None  # the config requires it for auth = "password"
        client.login(self.mailbox.username, self.mailbox.password.get_secret_value())
        return None


class XOAuth2SignIn:
    def __init__(self, mailbox: Mailbox, tokens: TokenSource) -> None:
        self.mailbox = mailbox
        self.tokens = tokens

    def login(self, client: IMAPClient, last_try: bool = False) -> float | None:
        token = self.tokens.access_token()
        try:
            client.oauth2_login(self.mailbox.username, token.value)
        except LoginError as exc:
            self.tokens.refused(token)
            if not last_try:
                raise RefusedOnce() from None
            advice = refused_token_advice(self.mailbox, token.value)
            raise ServerRefusedToken(
                f"{self.mailbox.host} refused a freshly issued token for {self.mailbox.username}: "
                f"{_server_text(exc)} ({advice})"
            ) from None
        return token.renew_at()


def sign_in_for(mailbox: Mailbox, tokens: TokenSource | None) -> SignIn:
    if mailbox.uses_oauth2:
        if tokens is None:
            tokens = TokenSource(mailbox, f"mailbox {mailbox.name}")
        return XOAuth2SignIn(mailbox, tokens)
    return PasswordSignIn(mailbox)


def _server_text(exc: LoginError) -> str:
    return str(exc).strip() or "AUTHENTICATE failed"
