"""Kafka security settings: one set of client options for every producer, consumer, admin
client and Faust app, and a clear error for an incomplete configuration."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import faust
import pytest

from shared.config import ConfigError, Settings, load_settings
from shared.kafka.security import client_options, faust_credentials


def test_plaintext_is_the_default_and_needs_nothing():
    settings = Settings()
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_options_carry_mechanism_user_and_password():
    settings = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="hub", kafka_sasl_password="pw")
    assert client_options(settings) == {
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hub", "sasl_plain_password": "pw",
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.mechanism.value) == ("hub", "SCRAM-SHA-512")
    assert "pw" not in repr(settings)


def test_sasl_over_tls_trusts_the_configured_ca():
    ca_file = Path(certifi.where())  # any PEM bundle serves as the cluster's CA here
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
                        kafka_sasl_username="hub", kafka_sasl_password="pw", kafka_ca_file=ca_file)
    options = client_options(settings)
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert faust_credentials(settings).protocol.value == "SASL_SSL"


def test_ssl_without_sasl_gives_an_ssl_context_and_no_credentials_to_send():
    options = client_options(Settings(kafka_security_protocol="SSL"))
    assert set(options) == {"security_protocol", "ssl_context"}
    assert isinstance(faust_credentials(Settings(kafka_security_protocol="SSL")), faust.SSLCredentials)


def test_the_password_can_come_from_a_file(tmp_path, monkeypatch):
    secret = tmp_path / "kafka-password"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SASL_USERNAME", "hub")
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE", str(secret))
    assert load_settings().kafka_sasl_password.get_secret_value() == "from-a-file"


def test_an_incomplete_sasl_configuration_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TOUCHPOINT_KAFKA_SASL_USERNAME", "hub")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "TOUCHPOINT_KAFKA_SASL_MECHANISM" in str(raised.value)
    assert "TOUCHPOINT_KAFKA_SASL_PASSWORD" in str(raised.value)


def test_a_missing_ca_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="kafka_ca_file"):
        Settings(kafka_security_protocol="SSL", kafka_ca_file=tmp_path / "nope.pem")
