"""`touchpoint mailbox authorize NAME` and `touchpoint mailbox test NAME`: an operator's tools
for connecting a mailbox. Exit status 2 for a name or mailbox the command does not apply to,
1 when signing in or a folder fails, with one plain line on stderr saying what to fix."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import NoReturn

import typer
from imapclient.exceptions import LoginError

from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.watcher import advice_for
from shared.config import Mailbox, Settings
from shared.oauth2.consent import obtain_consent
from shared.oauth2.errors import SignInError
from shared.oauth2.tokens import TokenSource


def _fail(message: str, status: int = 1) -> NoReturn:
    typer.echo(f"touchpoint: {message}", err=True)
    raise typer.Exit(status)


def _mailbox(settings: Settings, name: str) -> Mailbox:
    for box in settings.file.mailboxes:
        if box.name == name:
            return box
    names = ", ".join(box.name for box in settings.file.mailboxes) or "none"
    _fail(f"no mailbox named {name!r} in the configuration file (TOUCHPOINT_CONFIG); configured: {names}", status=2)


def authorize(settings: Settings, name: str) -> None:
    box = _mailbox(settings, name)
    if not box.uses_oauth2:
        _fail(f"mailbox {name} signs in with a password: there is no consent to give", status=2)
    if box.app_only:
        _fail(f"mailbox {name} signs in as the app (client credentials): an administrator grants consent "
              "in the provider's admin center, no user does; set refresh_token_file for a user's consent", status=2)
    try:
        obtain_consent(box, show=typer.echo, ask=lambda prompt: typer.prompt(prompt, prompt_suffix=""))
    except SignInError as exc:
        _fail(f"mailbox {name}: {exc}")
    typer.echo(f"stored the refresh token in {box.refresh_token_file} (readable by this user only)")
    typer.echo(f"check it with: touchpoint mailbox test {name}")


async def test(settings: Settings, name: str) -> None:
    box = _mailbox(settings, name)
    how = f"OAuth 2.0 ({box.provider}, {'app-only' if box.app_only else 'user consent'})" if box.uses_oauth2 else "password"
    typer.echo(f"mailbox {name}: {box.host}:{box.port} ({box.security}) as {box.username}, signing in with {how}")
    tokens = TokenSource(box, f"mailbox {name}") if box.uses_oauth2 else None
    if tokens is not None:
        try:
            token = await asyncio.to_thread(tokens.access_token)
        except SignInError as exc:
            _fail(f"mailbox {name}: {exc}")
        typer.echo(f"token: issued by {tokens.endpoints.token_url}, valid for {(token.expires_at - time.time()) / 60:.0f} min")
    connection = ImapConnection(box, tokens=tokens)
    try:
        await connection.open()
    except (SignInError, LoginError) as exc:
        await connection.close()
        _fail(f"mailbox {name}: {_login_text(exc, box)}")
    except (OSError, ssl.SSLError) as exc:
        await connection.close()
        _fail(f"mailbox {name}: {type(exc).__name__}: {exc} ({advice_for(exc)})")
    try:
        typer.echo("signed in")
        await _list_folders(connection, box)
    finally:
        await connection.close()


async def _list_folders(connection: ImapConnection, box: Mailbox) -> None:
    missing = []
    for folder, direction in box.folders.items():
        try:
            status = await connection.select(folder)
        except Exception as exc:  # imapclient raises its own error for a folder that is not there
            if "select failed" not in str(exc).lower() and "nonexistent" not in str(exc).lower():
                raise
            missing.append(folder)
            typer.echo(f"  {folder}: NOT FOUND")
            continue
        typer.echo(f"  {folder} ({direction}): UIDVALIDITY {status.uidvalidity}, {status.exists} messages")
    if missing:
        existing = await asyncio.to_thread(connection.client.list_folders)
        names = ", ".join(str(name) for _, _, name in existing)
        _fail(f"mailbox {box.name}: folder {', '.join(repr(f) for f in missing)} not found on the server; "
              f"it has: {names}")
    typer.echo("ok")


def _login_text(exc: Exception, box: Mailbox) -> str:
    if isinstance(exc, LoginError):
        return f"the server refused the login for {box.username}: {exc} (check username and password)"
    return str(exc)
