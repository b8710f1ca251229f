"""How every Kafka client of Touchpoint connects: PLAINTEXT, TLS, or SASL (PLAIN, SCRAM) over
either, as managed clusters (Confluent Cloud, MSK, Aiven) require. One place turns the settings
into client options, for aiokafka's producers, consumers and admin clients and for Faust."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context


def _ssl_context(settings) -> ssl.SSLContext | None:  # type: ignore[no-untyped-def]
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    # without a CA file the system's trusted certificates apply, as for a managed cluster
    return create_ssl_context(cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file else None)


def client_options(settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return options


def faust_credentials(settings):  # type: ignore[no-untyped-def]
    """`broker_credentials` for a faust.App; None for PLAINTEXT."""
    import faust

    context = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism, ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
