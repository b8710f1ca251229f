"""OAuth 2.0 sign-in without a network: what the configuration accepts and refuses, each
provider's endpoints and scopes, when a token is renewed, how refusals are explained, how the
refresh token is kept on disk, and how the IMAP pollers share a mailbox's tokens."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.ingest.imap.main import connector
from services.ingest.imap.signin import PasswordSignIn, XOAuth2SignIn
from services.ingest.imap.watcher import advice_for
from shared.config import ConfigError, Mailbox, Smtp, read_config_file
from shared.oauth2.diagnosis import first_line, refused_token_advice, token_claims, token_error_advice
from shared.oauth2.errors import TokenRefused
from shared.oauth2.providers import endpoints_for
from shared.oauth2.refresh_tokens import RefreshTokenMissing, read_refresh_token, store_refresh_token
from shared.oauth2.tokens import AccessToken

BASE = {"name": "support", "host": "outlook.office365.com", "username": "support@contoso.example"}
MICROSOFT_APP = {**BASE, "auth": "oauth2", "provider": "microsoft", "tenant": "contoso.onmicrosoft.com",
                 "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": "app-secret-value"}


def error_of(**fields: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Mailbox(**fields)
    return str(caught.value)


# ---- configuration ----------------------------------------------------------------------------


def test_a_microsoft_app_only_mailbox_needs_no_password_and_no_refresh_token():
    box = Mailbox(**MICROSOFT_APP)
    assert box.uses_oauth2 and box.app_only and box.password is None


def test_an_oauth2_mailbox_names_every_missing_key():
    assert "needs provider, client_id" in error_of(**BASE, auth="oauth2")
    assert "needs tenant" in error_of(**{**MICROSOFT_APP, "tenant": None})
    assert "needs token_url" in error_of(**{**MICROSOFT_APP, "provider": "generic", "tenant": None})
    assert "refresh_token_file (Google has no app-only IMAP access)" in error_of(**{**MICROSOFT_APP, "provider": "google"})


def test_token_endpoints_must_be_https_except_on_loopback():
    generic = {**MICROSOFT_APP, "provider": "generic", "tenant": None}
    assert "must be https://" in error_of(**generic, token_url="http://idp.example/token")
    assert Mailbox(**generic, token_url="http://127.0.0.1:8443/token").token_url == "http://127.0.0.1:8443/token"


def test_oauth2_keys_without_auth_oauth2_are_an_error_not_silently_ignored():
    message = error_of(**BASE, password="pw-123456", provider="google", client_id="x")
    assert 'provider, client_id need auth = "oauth2"' in message


def test_a_password_mailbox_still_needs_its_password_and_an_oauth2_one_must_not_have_one():
    assert "password (or password_file) is missing" in error_of(**BASE)
    assert "remove password" in error_of(**MICROSOFT_APP, password="pw-123456")


def test_client_secret_file_is_read_like_every_other_secret(tmp_path: Path):
    (tmp_path / "secret").write_text("from-a-file\n")
    config = tmp_path / "touchpoint.toml"
    config.write_text(f"""
[[mailboxes]]
name = "support"
host = "imap.gmail.com"
username = "support@shop.example"
auth = "oauth2"
provider = "google"
client_id = "123.apps.googleusercontent.com"
client_secret_file = "{tmp_path / 'secret'}"
refresh_token_file = "{tmp_path / 'support.refresh'}"
""")
    box = read_config_file(config).mailboxes[0]
    assert box.client_secret is not None and box.client_secret.get_secret_value() == "from-a-file"
    assert box.refresh_token_file == tmp_path / "support.refresh" and not box.app_only


def test_an_unknown_oauth2_key_is_named(tmp_path: Path):
    config = tmp_path / "touchpoint.toml"
    config.write_text('[[mailboxes]]\nname = "a"\nhost = "h"\nusername = "u"\npassword = "p"\nclient_ids = "x"\n')
    with pytest.raises(ConfigError, match="mailboxes.0.client_ids: unknown key"):
        read_config_file(config)


def test_smtp_with_oauth2_needs_the_account_that_sends():
    with pytest.raises(ValidationError, match="needs username"):
        Smtp(host="smtp.office365.com", sender="a@b.example", auth="oauth2", provider="microsoft", tenant="t",
             client_id="c")


# ---- providers --------------------------------------------------------------------------------


def test_microsoft_app_only_asks_for_the_default_scope_of_exchange_online_at_the_tenants_endpoint():
    endpoints = endpoints_for(Mailbox(**MICROSOFT_APP))
    assert endpoints.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert endpoints.scopes == ["https://outlook.office365.com/.default"]
    assert endpoints.client_auth == "client_secret_post"


def test_microsoft_with_a_user_asks_for_imap_smtp_and_offline_access_and_offers_the_device_code_flow():
    endpoints = endpoints_for(Mailbox(**MICROSOFT_APP, refresh_token_file="/var/lib/touchpoint/support.refresh"))
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in endpoints.scopes and "offline_access" in endpoints.scopes
    assert endpoints.device_authorization_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"


def test_google_uses_the_code_flow_with_offline_access_and_the_full_mail_scope():
    box = Mailbox(**{**MICROSOFT_APP, "provider": "google", "tenant": None, "refresh_token_file": "/tmp/rt"})
    endpoints = endpoints_for(box)
    assert endpoints.scopes == ["https://mail.google.com/"] and endpoints.device_authorization_url is None
    assert endpoints.authorize_params == {"access_type": "offline", "prompt": "consent"}


# ---- tokens and SASL ----------------------------------------------------------------------------


def test_a_token_is_renewed_a_fifth_of_its_lifetime_early_but_at_most_a_minute():
    hour = AccessToken("t", issued_at=0, expires_at=3600)
    short = AccessToken("t", issued_at=0, expires_at=10)
    assert hour.usable_at(3539) and not hour.usable_at(3540) and hour.renew_at() == 3540
    assert short.usable_at(7.9) and not short.usable_at(8.0)


def test_a_token_never_shows_in_its_repr():
    assert "s3cr3t" not in repr(AccessToken("s3cr3t", issued_at=0, expires_at=1))


# ---- explaining refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "description", "advice"), [
    ("invalid_request", "AADSTS90002: Tenant 'contoso.example' not found.", "wrong tenant"),
    ("unauthorized_client", "AADSTS700016: Application with identifier 'x' was not found in the directory", "check tenant and client_id"),
    ("invalid_client", "AADSTS7000215: Invalid client secret provided.", "wrong client_secret"),
    ("invalid_grant", "AADSTS65001: The user or administrator has not consented to use the application", "consent missing"),
    ("invalid_grant", "Token has been expired or revoked.", "run touchpoint mailbox authorize again"),
])
def test_token_endpoint_refusals_are_explained(error, description, advice):
    assert advice in token_error_advice(error, description)


def test_only_the_first_line_of_a_providers_description_is_kept():
    assert first_line("AADSTS90002: Tenant not found.\r\nTrace ID: 1\r\nCorrelation ID: 2") == "AADSTS90002: Tenant not found."


def jwt(claims: dict) -> str:
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")  # noqa: E731
    return f"{encode({'alg': 'RS256'})}.{encode(claims)}.signature"


def test_an_app_only_token_without_the_imap_role_is_explained_as_a_missing_permission():
    box = Mailbox(**MICROSOFT_APP)
    assert "missing IMAP.AccessAsApp permission" in refused_token_advice(box, jwt({"roles": ["Mail.Read"]}))
    assert "SMTP.SendAsApp" in refused_token_advice(box, jwt({"roles": []}), protocol="SMTP")


def test_an_app_only_token_with_the_role_points_at_the_mailbox_permission_in_exchange():
    advice = refused_token_advice(Mailbox(**MICROSOFT_APP), jwt({"roles": ["IMAP.AccessAsApp"]}))
    assert "New-ServicePrincipal" in advice and "Add-MailboxPermission" in advice


def test_opaque_tokens_have_no_claims():
    assert token_claims("ya29.a0AfH6SMB") == {} and token_claims("a.!!!.c") == {}


# ---- the refresh token on disk ------------------------------------------------------------------


def test_the_refresh_token_is_replaced_whole_and_readable_by_its_owner_only(tmp_path: Path):
    path = tmp_path / "oauth" / "support.refresh"
    store_refresh_token(path, "first")
    store_refresh_token(path, "second")
    assert read_refresh_token(path) == "second"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["support.refresh"]


def test_a_missing_refresh_token_says_consent_is_still_to_be_given(tmp_path: Path):
    with pytest.raises(RefreshTokenMissing, match="no refresh token"):
        read_refresh_token(tmp_path / "none")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(RefreshTokenMissing, match="is empty"):
        read_refresh_token(tmp_path / "empty")


# ---- wiring -----------------------------------------------------------------------------------


def test_the_folders_of_one_oauth2_mailbox_share_its_tokens_and_a_password_mailbox_has_none():
    m365, classic = Mailbox(**MICROSOFT_APP), Mailbox(**{**BASE, "name": "classic", "password": "pw-123456"})
    connect = connector([m365, classic])
    inbox, sent, other = connect(m365), connect(m365), connect(classic)
    try:
        assert isinstance(inbox.sign_in, XOAuth2SignIn) and isinstance(other.sign_in, PasswordSignIn)
        assert inbox.sign_in.tokens is sent.sign_in.tokens  # type: ignore[attr-defined]
    finally:
        for connection in (inbox, sent, other):
            connection._executor.shutdown(wait=False)


def test_a_failed_oauth2_sign_in_points_the_operator_at_mailbox_test():
    refused = TokenRefused("invalid_grant", "Token has been expired or revoked.", "run touchpoint mailbox authorize again")
    assert "touchpoint mailbox test" in advice_for(refused)
    assert str(refused) == ("the token endpoint refused: invalid_grant: Token has been expired or revoked. "
                            "(run touchpoint mailbox authorize again)")
