"""`touchpoint kafka start --brokers 3` runs a three-node KRaft cluster: topics get three
replicas and min.insync.replicas 2, acknowledged writes go on while one node is killed, and
`status`/`stop` cover every node."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from events.topics import Topic, topic_name
from shared.config import Settings
from shared.kafka.local_broker import port_open
from shared.kafka.errors import KafkaUnavailable
from shared.kafka.publisher import KafkaPublisher
from shared.kafka.topics import ensure_topics
from tests.infra.ports import free_port_run
from tests.timeline_factories import form

pytestmark = pytest.mark.integration


def touchpoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True,
                          timeout=240)


async def topic_replication(bootstrap: str, topic: str) -> tuple[int, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        replicas = {len(partition["replicas"]) for partition in described[0]["partitions"]}
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    finally:
        await admin.close()
    assert len(replicas) == 1
    return replicas.pop(), entries["min.insync.replicas"]


async def publish(bootstrap: str, prefix: str, count: int, start: int) -> list[str]:
    publisher = KafkaPublisher(bootstrap, prefix, request_timeout_ms=20_000)
    await publisher.start()
    try:
        events = [form(start + i, f"cluster-{start + i}@example.com", minute=start + i) for i in range(count)]
        await publisher.publish(events)
    finally:
        await publisher.stop()
    return [str(event.event_id) for event in events]


async def read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000)
            if not batch:
                return values
            values += [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()


def test_three_node_cluster_replicates_and_survives_a_killed_node(tmp_path: Path):
    base = free_port_run(6)
    data = tmp_path / "var"
    prefix = "cluster."
    env = {**os.environ, "TOUCHPOINT_DATA_DIR": str(data), "TOUCHPOINT_KAFKA_PORT": str(base),
           "TOUCHPOINT_KAFKA_CONTROLLER_PORT": str(base + 1), "TOUCHPOINT_TOPIC_PREFIX": prefix}
    for name in ("TOUCHPOINT_KAFKA_BOOTSTRAP", "TOUCHPOINT_TOPIC_REPLICATION_FACTOR",
                 "TOUCHPOINT_TOPIC_MIN_INSYNC_REPLICAS"):
        env.pop(name, None)
    ports = [base, base + 2, base + 4]
    try:
        start = touchpoint("kafka", "start", "--brokers", "3", env=env)
        assert start.returncode == 0, start.stderr
        bootstrap = ",".join(f"127.0.0.1:{port}" for port in ports)
        assert bootstrap in start.stdout
        status = touchpoint("kafka", "status", env=env)
        assert status.returncode == 0 and "running (3 of 3 nodes)" in status.stdout

        # services started without TOUCHPOINT_KAFKA_BOOTSTRAP find every node
        settings = Settings(data_dir=data, kafka_port=base, topic_prefix=prefix)
        assert settings.bootstrap_servers == bootstrap

        topics = touchpoint("topics", env=env)
        assert topics.returncode == 0, topics.stderr
        webforms = topic_name(prefix, Topic.WEBFORMS)
        assert asyncio.run(topic_replication(bootstrap, webforms)) == (3, "2")

        sent = asyncio.run(publish(bootstrap, prefix, 20, 0))
        victim = int((data / "kafka" / "node-2" / "kafka.pid").read_text())
        os.kill(victim, signal.SIGKILL)
        degraded = touchpoint("kafka", "status", env=env)
        assert degraded.returncode == 1 and "degraded (2 of 3 nodes)" in degraded.stdout
        sent += asyncio.run(publish(bootstrap, prefix, 20, 20))  # acks=all with two in-sync replicas
        with pytest.raises(KafkaUnavailable, match="only 2 of the cluster's 3 brokers"):
            asyncio.run(ensure_topics(bootstrap, ["late.webforms"], timeout_s=3))

        restart = touchpoint("kafka", "start", env=env)
        assert restart.returncode == 0, restart.stderr
        assert touchpoint("kafka", "status", env=env).returncode == 0
        stored = asyncio.run(read_all(bootstrap, webforms))
        assert len(stored) == 40
        assert all(any(event_id.encode() in value for value in stored) for event_id in sent)
    finally:
        stop = touchpoint("kafka", "stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert not any(port_open(port) for port in ports)
    status = touchpoint("kafka", "status", env=env)
    assert status.returncode == 1 and "stopped (0 of 3 nodes)" in status.stdout


def test_a_data_folder_of_another_size_is_refused_with_what_to_do(tmp_path: Path):
    kafka_dir = tmp_path / "var" / "kafka"
    (kafka_dir / "data").mkdir(parents=True)  # a single broker's storage
    env = {**os.environ, "TOUCHPOINT_DATA_DIR": str(tmp_path / "var")}
    env.pop("TOUCHPOINT_KAFKA_BOOTSTRAP", None)
    result = touchpoint("kafka", "start", "--brokers", "3", env=env)
    assert result.returncode == 1
    assert "holds a single broker's data" in result.stderr and "move" in result.stderr
