"""OAuth 2.0 (SASL XOAUTH2) sign-in of the IMAP poller against real parts: Dovecot's `oauth2`
passdb checks every token at a local authorization server that issues short-lived tokens for
client credentials and refresh-token grants. Tokens run out mid-run and nothing is missed or
duplicated; a refused token is replaced once; a revoked refresh token shows on /ops and in
`touchpoint mailbox test`; no token or secret reaches a log line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from services.ingest.imap.connection import ImapConnection
from services.ingest.imap.signin_status import InMemorySignInReport, mailbox_statuses
from services.projector.api.app import create_app
from services.projector.api.auth import Authorizer
from services.projector.web.ui import WebUi
from shared.config import Auth, AuthToken, FileConfig, Mailbox, Settings
from shared.db.engine import make_engine
from shared.kafka.publisher import InMemoryPublisher
from shared.oauth2.consent import obtain_consent
from shared.oauth2.errors import ServerRefusedToken
from shared.oauth2.refresh_tokens import read_refresh_token, store_refresh_token
from shared.oauth2.tokens import TokenSource
from tests.integration.oauth_peers import lines_naming_any, new_account, oauth_dovecot, oauth_server  # noqa: F401
from tests.integration.test_imap_poller import poller, wait_for_checkpoint

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]


def poller_settings(kafka_settings: Settings, box: Mailbox, db_url: str, tmp_path: Path) -> Settings:
    return kafka_settings.model_copy(update={
        "file": FileConfig(mailboxes=[box]), "database_url": db_url, "data_dir": tmp_path / "var",
    })


async def test_the_poller_signs_in_anew_as_tokens_expire_and_captures_every_mail_exactly_once(
    kafka_settings, oauth_dovecot, oauth_server, email_topic, postgres_url, tmp_path, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    account = new_account(oauth_dovecot, oauth_server, lifetime=2.0)
    settings = poller_settings(kafka_settings, account.mailbox(), postgres_url, tmp_path)
    account.deliver("INBOX", 3)

    async with poller(settings):
        await wait_for_checkpoint(settings, "INBOX", 3)
        for round_ in range(4):
            await asyncio.sleep(1.5)  # the session's token is about to run out, or has
            account.deliver("INBOX", 2, start=3 + 2 * round_)
            await wait_for_checkpoint(settings, "INBOX", 5 + 2 * round_)

    events = await email_topic.drain()
    assert Counter(e.payload.subject for e in events) == Counter({f"Order {n}": 1 for n in range(11)})
    assert oauth_server.grants_of(account.client_id).count("client_credentials") >= 4
    sign_ins = oauth_server.introspections_of(account.username)
    assert len(sign_ins) >= 4 and all(sign_ins)  # every new session came with a token still alive
    assert lines_naming_any(caplog.records, capfd.readouterr().err, account.secrets()) == []


async def test_a_token_the_server_refuses_is_replaced_once_and_the_sign_in_retried(oauth_dovecot, oauth_server):
    account = new_account(oauth_dovecot, oauth_server)
    box = account.mailbox()
    tokens, report = TokenSource(box, "test"), InMemorySignInReport()
    first = ImapConnection(box, tokens=tokens, report=report)
    await first.open()
    await first.close()
    oauth_server.revoke_access_tokens(account.client_id)  # the cached token is still within its lifetime

    second = ImapConnection(box, tokens=tokens, report=report)
    await second.open()
    status = await second.select("INBOX")
    await second.close()

    assert status.uidvalidity > 0
    assert oauth_server.introspections_of(account.username) == [True, False, True]
    assert oauth_server.grants_of(account.client_id) == ["client_credentials", "client_credentials"]
    assert report.outcomes[box.name] == (True, "")


async def test_a_token_refused_twice_is_reported_with_what_to_check(oauth_dovecot, oauth_server):
    account, stranger = new_account(oauth_dovecot, oauth_server), new_account(oauth_dovecot, oauth_server)
    # the client's tokens open the stranger's mailbox, not this one
    box = account.mailbox(client_id=stranger.client_id, client_secret=stranger.client_secret)
    report = InMemorySignInReport()
    connection = ImapConnection(box, tokens=TokenSource(box, "test"), report=report)

    with pytest.raises(ServerRefusedToken, match="refused a freshly issued token for " + account.username):
        await connection.open()
    await connection.close()

    assert oauth_server.grants_of(stranger.client_id) == ["client_credentials", "client_credentials"]
    ok, detail = report.outcomes[box.name]
    assert not ok and "check username, scopes" in detail


async def test_a_rotated_refresh_token_is_stored_for_the_next_refresh(oauth_dovecot, oauth_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    account = new_account(oauth_dovecot, oauth_server)
    consent = oauth_server.grant_refresh_token(account.client_id)
    store_refresh_token(tmp_path / "support.refresh", consent)
    box = account.mailbox(refresh_token_file=tmp_path / "support.refresh")

    connection = ImapConnection(box, tokens=TokenSource(box, "mailbox support"))
    await connection.open()
    await connection.close()
    rotated = read_refresh_token(tmp_path / "support.refresh")
    again = await asyncio.to_thread(TokenSource(box, "mailbox support").access_token)  # e.g. after a restart

    assert rotated != consent and oauth_server.refresh_tokens[consent].revoked
    assert again.value in oauth_server.issued_for(account.client_id)
    assert oauth_server.grants_of(account.client_id) == ["refresh_token", "refresh_token"]
    assert (tmp_path / "support.refresh").stat().st_mode & 0o077 == 0
    assert "stored the new refresh token" in caplog.text
    assert lines_naming_any(caplog.records, "", account.secrets()) == []


# ---- the operator's view: /ops and `touchpoint mailbox` ---------------------------------------


def write_config(path: Path, box: Mailbox) -> Path:
    lines = ["[[mailboxes]]"]
    for key, value in box.model_dump(mode="json", exclude_none=True, exclude_defaults=True).items():
        if key == "client_secret":
            value = box.client_secret.get_secret_value()  # type: ignore[union-attr]
        if isinstance(value, dict):
            value = "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()) + " }"
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")  # JSON strings, numbers and lists are TOML too
    path.write_text("\n".join(lines) + "\n")
    return path


def touchpoint(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOUCHPOINT_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def ops_page(settings: Settings, engine) -> str:  # type: ignore[no-untyped-def]
    settings = settings.model_copy(update={"file": FileConfig(auth=Auth(
        session_secret="ops-test-secret", tokens=[AuthToken(token="ops-token-1", user="olaf", role="ops")]))})
    publisher = InMemoryPublisher()
    app = create_app(settings, engine=engine, publisher=publisher)
    WebUi(settings, engine, publisher, Authorizer(settings)).install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://agent.test") as client:
        form = (await client.get("/login")).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        await client.post("/login", data={"token": "ops-token-1", "csrf_token": csrf, "next": "/ops"})
        response = await client.get("/ops")
    assert response.status_code == 200
    return response.text


async def test_a_revoked_refresh_token_shows_on_ops_and_in_mailbox_test(
    kafka_settings, oauth_dovecot, oauth_server, postgres_url, tmp_path, caplog, capfd
):
    account = new_account(oauth_dovecot, oauth_server)
    store_refresh_token(tmp_path / "support.refresh", oauth_server.grant_refresh_token(account.client_id))
    oauth_server.revoke_refresh_tokens(account.client_id)  # e.g. the user changed their password
    box = account.mailbox(name="support", refresh_token_file=str(tmp_path / "support.refresh"))
    settings = poller_settings(kafka_settings, box, postgres_url, tmp_path)
    engine = make_engine(postgres_url)
    try:
        async with poller(settings):
            deadline = time.monotonic() + 30
            while not [row for row in await _statuses(engine) if row["signin_ok"] is False]:
                assert time.monotonic() < deadline, "the poller reported no failed sign-in"
                await asyncio.sleep(0.1)
        page = await ops_page(settings, engine)
    finally:
        await engine.dispose()
    row = re.search(r'<tr data-mailbox="support">.*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "failing" in row and "invalid_grant: Token has been expired or revoked." in row
    assert "run touchpoint mailbox authorize again" in row

    result = touchpoint(write_config(tmp_path / "touchpoint.toml", box), "mailbox", "test", "support")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "invalid_grant: Token has been expired or revoked." in result.stderr
    assert "run touchpoint mailbox authorize again" in result.stderr
    assert lines_naming_any(caplog.records, capfd.readouterr().err + result.stdout + result.stderr, account.secrets()) == []


async def _statuses(engine):  # type: ignore[no-untyped-def]
    try:
        return await mailbox_statuses(engine)
    except Exception:  # the poller has not migrated the database yet
        return []


def test_mailbox_test_lists_the_folders_with_uidvalidity_and_names_a_missing_one(oauth_dovecot, oauth_server, tmp_path):
    account = new_account(oauth_dovecot, oauth_server)
    box = account.mailbox(name="support", folders={"INBOX": "incoming", "Sent": "outgoing"})
    config = write_config(tmp_path / "touchpoint.toml", box)

    missing = touchpoint(config, "mailbox", "test", "support")
    assert missing.returncode == 1, missing.stderr
    assert re.search(r"INBOX \(incoming\): UIDVALIDITY \d+, 0 messages", missing.stdout)
    assert missing.stderr.strip() == "touchpoint: mailbox support: folder 'Sent' not found on the server; it has: INBOX"

    account.deliver("INBOX", 2)
    box = account.mailbox(name="support")
    found = touchpoint(write_config(tmp_path / "touchpoint.toml", box), "mailbox", "test", "support")
    assert found.returncode == 0, found.stderr
    assert "signing in with OAuth 2.0 (generic, app-only)" in found.stdout
    assert re.search(r"INBOX \(incoming\): UIDVALIDITY \d+, 2 messages", found.stdout)
    assert not lines_naming_any([], found.stdout + found.stderr, account.secrets())


def test_mailbox_commands_refuse_names_and_mailboxes_they_do_not_apply_to(oauth_dovecot, oauth_server, tmp_path):
    account = new_account(oauth_dovecot, oauth_server)
    config = write_config(tmp_path / "touchpoint.toml", account.mailbox(name="support"))

    unknown = touchpoint(config, "mailbox", "test", "sales")
    app_only = touchpoint(config, "mailbox", "authorize", "support")

    assert unknown.returncode == 2 and "no mailbox named 'sales'" in unknown.stderr and "configured: support" in unknown.stderr
    assert app_only.returncode == 2 and "administrator grants consent" in app_only.stderr


def test_mailbox_authorize_takes_the_code_and_stores_the_refresh_token(oauth_dovecot, oauth_server, tmp_path):
    account = new_account(oauth_dovecot, oauth_server)
    box = account.mailbox(name="support", refresh_token_file=str(tmp_path / "support.refresh"),
                          authorize_url=f"{oauth_server.base_url}/authorize", scopes=["mail"])
    config = write_config(tmp_path / "touchpoint.toml", box)
    code = oauth_server.authorization_code(account.client_id)

    result = touchpoint(config, "mailbox", "authorize", "support", stdin=f"http://localhost/?code={code}&state=x\n")
    assert result.returncode == 1 and "mismatching_state" in result.stderr  # a pasted answer to another request

    code = oauth_server.authorization_code(account.client_id)
    result = touchpoint(config, "mailbox", "authorize", "support", stdin=f"{code}\n")
    assert result.returncode == 0, result.stderr
    url = re.search(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    assert f"client_id={account.client_id}" in url and "code_challenge_method=S256" in url
    stored = read_refresh_token(tmp_path / "support.refresh")
    assert oauth_server.refresh_tokens[stored].client_id == account.client_id
    tested = touchpoint(config, "mailbox", "test", "support")
    assert tested.returncode == 0, tested.stderr
    assert "OAuth 2.0 (generic, user consent)" in tested.stdout


def test_the_device_code_flow_stores_the_refresh_token_once_the_user_approved(oauth_dovecot, oauth_server, tmp_path):
    account = new_account(oauth_dovecot, oauth_server)
    box = account.mailbox(refresh_token_file=str(tmp_path / "rt"), device_authorization_url=f"{oauth_server.base_url}/devicecode")
    shown: list[str] = []
    polls: list[float] = []

    def user_approves_after_two_polls(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 2:
            oauth_server.approve_device_codes()

    obtain_consent(box, show=shown.append, ask=lambda prompt: pytest.fail("the device flow asks nothing"),
                   sleep=user_approves_after_two_polls)

    assert shown == [f"Open {oauth_server.base_url}/device and enter the code ABCD-EFGH"]
    assert len(polls) == 2
    assert oauth_server.refresh_tokens[read_refresh_token(tmp_path / "rt")].client_id == account.client_id
