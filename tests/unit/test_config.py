"""Configuration: environment plus an optional TOML file, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings

EXAMPLE = """
[[mailboxes]]
name = "support"
host = "imap.example.com"
port = 993
security = "tls"
username = "support@example.com"
password_file = "{secret}"
folders = {{ INBOX = "incoming", Sent = "outgoing" }}

[webhooks.cti]
token = "cti-token-123"
[webhooks.twilio]
auth_token = "twilio-token-123"
public_base_url = "https://hub.example.com"
[webhooks.forms.contact]
required = ["email", "message"]
topic = "contact"
secret = ""
[webhooks.shipping.aftership]
secret = "aftership-123"
[webhooks.shipping.easypost]
secret = "easypost-123"
[webhooks.shipping.generic]
secret = "generic-1234"

[[auth.tokens]]
token = "anna-token-123"
user = "anna"
role = "agent"
extension = "21"

[sla]
timezone = "Europe/Berlin"
[[sla.calendars]]
name = "office"
hours = {{ mon = ["08:00-12:00", "13:00-17:00"], tue = ["08:00-17:00"] }}
holidays = ["2026-12-24", "2026-12-25"]
[[sla.policies]]
name = "standard"
calendar = "office"
first_response = "4h"
resolution = "3d"
warn_at = ["80%"]

[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"
sender = "touchpoint@example.com"
[[routing.rules]]
match = {{ type = "sla.breached" }}
email = ["leads@example.com"]
webhook = []
"""


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("TOUCHPOINT_"):
            monkeypatch.delenv(key)
    return monkeypatch


def write_config(tmp_path: Path, text: str) -> Path:
    secret = tmp_path / "imap-password"
    secret.write_text("s3cret-from-file\n")
    path = tmp_path / "touchpoint.toml"
    path.write_text(text.format(secret=secret))
    return path


def test_the_contract_example_file_loads(clean_env, tmp_path):
    settings = load_settings(write_config(tmp_path, EXAMPLE))
    mailbox = settings.file.mailboxes[0]
    assert mailbox.folders == {"INBOX": "incoming", "Sent": "outgoing"}
    assert mailbox.password.get_secret_value() == "s3cret-from-file"
    assert settings.file.sla.calendars[0].hours["mon"] == ["08:00-12:00", "13:00-17:00"]
    assert settings.file.webhooks.shipping["generic"].secret.get_secret_value() == "generic-1234"
    assert settings.file.auth.tokens[0].extension == "21"
    assert settings.file.routing.rules[0].match == {"type": "sla.breached"}


def test_defaults_without_any_configuration(clean_env):
    settings = load_settings()
    assert (settings.ingest_port, settings.api_port, settings.topic_prefix) == (8080, 8000, "touchpoint.")
    assert settings.uses_local_kafka
    assert settings.db_url.startswith("sqlite+aiosqlite:///") and settings.db_url.endswith("var/touchpoint.db")


def test_environment_variables_configure_the_services(clean_env, tmp_path):
    clean_env.setenv("TOUCHPOINT_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    clean_env.setenv("TOUCHPOINT_DATABASE_URL", "postgresql://tp:pw@db/touchpoint")
    clean_env.setenv("TOUCHPOINT_INGEST_PORT", "9080")
    clean_env.setenv("TOUCHPOINT_TOPIC_PREFIX", "acme.")
    clean_env.setenv("TOUCHPOINT_CONFIG", str(write_config(tmp_path, EXAMPLE)))
    settings = load_settings()
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092" and not settings.uses_local_kafka
    assert settings.db_url == "postgresql://tp:pw@db/touchpoint"
    assert settings.ingest_port == 9080 and settings.topic_prefix == "acme."
    assert settings.file.mailboxes[0].name == "support"


def test_an_unknown_key_is_an_error_naming_it(clean_env, tmp_path):
    path = write_config(tmp_path, EXAMPLE.replace('sender = "touchpoint@example.com"', 'sender = "x@example.com"\nsendr = "typo"'))
    with pytest.raises(ConfigError, match=r"smtp\.sendr: unknown key"):
        load_settings(path)


def test_an_unknown_section_is_an_error_naming_it(clean_env, tmp_path):
    with pytest.raises(ConfigError, match=r"mailbox: unknown key"):
        load_settings(write_config(tmp_path, '[mailbox]\nname = "x"\n'))


def test_a_wrong_value_names_the_key(clean_env, tmp_path):
    path = write_config(tmp_path, EXAMPLE.replace('security = "tls"', 'security = "ssl"'))
    with pytest.raises(ConfigError, match=r"mailboxes\.0\.security"):
        load_settings(path)


def test_plain_imap_is_refused_for_a_remote_host(clean_env, tmp_path):
    path = write_config(tmp_path, EXAMPLE.replace('security = "tls"', 'security = "plain"'))
    with pytest.raises(ConfigError, match="only allowed for a loopback host"):
        load_settings(path)


def test_a_missing_secret_file_says_which(clean_env, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[webhooks.cti]\ntoken_file = "/nonexistent/cti-token"\n')
    with pytest.raises(ConfigError, match="token_file: cannot read /nonexistent/cti-token"):
        load_settings(path)


def test_invalid_toml_is_reported_with_the_file(clean_env, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[smtp\nhost=")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_settings(path)


def test_production_refuses_placeholder_secrets(clean_env, tmp_path):
    clean_env.setenv("TOUCHPOINT_ENVIRONMENT", "production")
    path = write_config(tmp_path, EXAMPLE.replace('token = "cti-token-123"', 'token = "changeme"'))
    with pytest.raises(ConfigError, match=r"webhooks\.cti\.token: a placeholder"):
        load_settings(path)
    clean_env.setenv("TOUCHPOINT_ENVIRONMENT", "development")
    assert load_settings(path).file.webhooks.cti is not None
