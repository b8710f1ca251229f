"""The real Kafka broker for the test session: an external one named by
TOUCHPOINT_TEST_KAFKA_BOOTSTRAP, else a local single-node broker on free ports."""

from __future__ import annotations

import os
from pathlib import Path

from shared.kafka.local_broker import LocalBroker
from tests.infra.ports import free_port


def start_test_broker(base_dir: Path) -> tuple[str, LocalBroker | None]:
    external = os.environ.get("TOUCHPOINT_TEST_KAFKA_BOOTSTRAP")
    if external:
        return external, None
    kafka_home = os.environ.get("KAFKA_HOME")
    broker = LocalBroker(
        data_dir=base_dir / "kafka",
        port=free_port(),
        controller_port=free_port(),
        kafka_home=Path(kafka_home) if kafka_home else None,
        heap="512m",
    )
    broker.start(wait_seconds=120)
    return broker.bootstrap, broker
