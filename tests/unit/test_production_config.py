"""Production refuses what would be unsafe to run with: placeholder secrets (the example file's,
the demo's), secrets of ours shorter than 32 characters, no session secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(32)


@pytest.fixture
def production(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("TOUCHPOINT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TOUCHPOINT_ENVIRONMENT", "production")
    return monkeypatch


def config(tmp_path: Path, cti_token: str = STRONG, session_secret: str | None = STRONG,
           imap_password: str = "Imap-pw-9", master_key: bool = True) -> Path:
    text = f"""
{f'[privacy]{chr(10)}master_key_file = "{tmp_path / "master.key"}"' if master_key else ""}
[[mailboxes]]
name = "support"
host = "imap.acme.test"
username = "support@acme.test"
password = "{imap_password}"
[webhooks.cti]
token = "{cti_token}"
[auth]
{f'session_secret = "{session_secret}"' if session_secret else ""}
[[auth.tokens]]
token = "{secrets.token_urlsafe(32)}"
user = "anna"
"""
    path = tmp_path / "touchpoint.toml"
    path.write_text(text)
    return path


def test_the_example_file_is_refused_in_production_naming_every_placeholder(production):
    with pytest.raises(ConfigError) as refused:
        load_settings(REPO / "deploy" / "touchpoint.example.toml")
    message = str(refused.value)
    for key in ("webhooks.cti.token", "webhooks.twilio.auth_token", "webhooks.shipping.generic.secret",
                "auth.tokens[0].token", "auth.tokens[1].token", "auth.session_secret", "mailboxes[0].password"):
        assert f"{key}: a placeholder secret is not allowed in production" in message


def test_the_example_file_loads_outside_production(production):
    production.setenv("TOUCHPOINT_ENVIRONMENT", "development")
    assert load_settings(REPO / "deploy" / "touchpoint.example.toml").file.webhooks.cti is not None


def test_a_strong_configuration_loads_in_production(production, tmp_path):
    settings = load_settings(config(tmp_path))
    assert settings.environment == "production"


def test_personal_data_is_encrypted_unless_switched_off_in_production_and_in_development(production, tmp_path):
    assert load_settings(config(tmp_path)).encrypts_personal_data
    production.setenv("TOUCHPOINT_PRIVACY_ENCRYPT", "false")
    assert not load_settings(config(tmp_path)).encrypts_personal_data
    production.delenv("TOUCHPOINT_PRIVACY_ENCRYPT")
    production.setenv("TOUCHPOINT_ENVIRONMENT", "development")
    assert load_settings(config(tmp_path)).encrypts_personal_data
    production.setenv("TOUCHPOINT_PRIVACY_ENCRYPT", "false")
    assert not load_settings(config(tmp_path)).encrypts_personal_data


@pytest.mark.parametrize("placeholder", ["changeme", "demo-agent-token-0123456789abcdefghijkl",
                                         "REPLACE-ME-with-something-long-and-random", "example-token-" + "x" * 32])
def test_placeholder_words_are_refused_in_production(production, tmp_path, placeholder):
    with pytest.raises(ConfigError, match=r"webhooks\.cti\.token: a placeholder secret"):
        load_settings(config(tmp_path, cti_token=placeholder))


def test_a_secret_of_ours_shorter_than_32_characters_is_refused_in_production(production, tmp_path):
    with pytest.raises(ConfigError, match=r"webhooks\.cti\.token: a secret shorter than 32 characters"):
        load_settings(config(tmp_path, cti_token="a9F3k2LmQ8x7Zp1R"))


def test_a_mailbox_password_is_issued_by_the_mail_admin_and_may_be_shorter(production, tmp_path):
    assert load_settings(config(tmp_path, imap_password="Xk9-pw-mail")).file.mailboxes


def test_the_session_secret_is_required_in_production(production, tmp_path):
    with pytest.raises(ConfigError, match=r"auth\.session_secret: required in production"):
        load_settings(config(tmp_path, session_secret=None))


def test_the_privacy_master_key_file_is_required_in_production(production, tmp_path):
    with pytest.raises(ConfigError, match=r"privacy\.master_key_file: required in production"):
        load_settings(config(tmp_path, master_key=False))


def test_the_master_key_file_may_come_from_the_environment(production, tmp_path):
    production.setenv("TOUCHPOINT_PRIVACY_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    assert load_settings(config(tmp_path, master_key=False)).master_key_path == tmp_path / "master.key"


def test_production_without_a_config_file_needs_a_session_secret(production):
    with pytest.raises(ConfigError, match=r"auth\.session_secret: required in production"):
        load_settings()


def test_trusted_proxies_must_be_networks(production, tmp_path):
    production.setenv("TOUCHPOINT_TRUSTED_PROXIES", "10.0.0.0/8, not-a-network")
    with pytest.raises(ConfigError, match="not-a-network"):
        load_settings(config(tmp_path))
