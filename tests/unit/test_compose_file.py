"""docker-compose.yml as users run it: no Docker engine runs here, so these read the file and
check what `docker compose up` would trip over first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shared.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
TOUCHPOINT_SERVICES = {name: spec for name, spec in SERVICES.items() if spec.get("image") == "touchpoint:latest"}
DEFAULTED = re.compile(r"^\$\{[A-Z_]+:-(?P<default>[^}]*)\}$")


def with_defaults(value: str) -> str:
    """`${VAR:-default}` as compose reads it when VAR is unset."""
    match = DEFAULTED.match(value)
    return match["default"] if match else value


def mount_source(volume: str) -> str:
    """The host side of `SOURCE:TARGET[:MODE]`, where SOURCE may be `${VAR:-default}`."""
    if volume.startswith("${"):
        return with_defaults(volume[: volume.index("}") + 1])
    return volume.split(":")[0]


def bind_mounts(spec: dict) -> list[str]:
    sources = [mount_source(volume) for volume in spec.get("volumes", [])]
    return [source for source in sources if source.startswith((".", "/"))]


def test_every_service_has_a_healthcheck():
    missing = [name for name, spec in SERVICES.items() if "healthcheck" not in spec]
    assert missing == []
    for name, spec in SERVICES.items():
        assert spec["healthcheck"]["test"], name


def test_every_touchpoint_service_waits_for_a_healthy_kafka_and_postgres():
    assert set(TOUCHPOINT_SERVICES) == {"ingest", "imap", "projector", "sla", "notifier", "api"}
    for name, spec in TOUCHPOINT_SERVICES.items():
        assert spec["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                      "postgres": {"condition": "service_healthy"}}, name


def test_every_mounted_file_exists_in_the_repository():
    mounts = [(name, source) for name, spec in SERVICES.items() for source in bind_mounts(spec)]
    assert len(mounts) >= 8
    assert [(name, source) for name, source in mounts if not (ROOT / source).is_file()] == []
    named = {volume.split(":")[0] for spec in SERVICES.values() for volume in spec.get("volumes", [])
             if not volume.startswith((".", "/", "$"))}
    assert named <= set(COMPOSE["volumes"])


def test_every_touchpoint_variable_is_a_setting():
    variables = {key for spec in TOUCHPOINT_SERVICES.values() for key in spec["environment"]}
    assert variables, "the services set no environment"
    unknown = [key for key in variables
               if not key.startswith("TOUCHPOINT_") or key.removeprefix("TOUCHPOINT_").lower() not in Settings.model_fields]
    assert unknown == []


def test_the_dockerfile_is_there():
    for spec in TOUCHPOINT_SERVICES.values():
        assert (ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()


def test_the_cluster_profile_runs_three_voting_kafka_nodes():
    nodes = {name: spec for name, spec in SERVICES.items() if spec.get("image", "").startswith("apache/kafka")}
    assert set(nodes) == {"kafka", "kafka-2", "kafka-3"}
    assert {nodes["kafka-2"]["profiles"][0], nodes["kafka-3"]["profiles"][0]} == {"cluster"}
    cluster_env = dict(line.split("=", 1) for line in (ROOT / "deploy/compose/cluster.env").read_text().splitlines()
                       if line and not line.startswith("#"))
    voters = cluster_env["KAFKA_QUORUM_VOTERS"].split(",")
    assert voters == ["1@kafka:9093", "2@kafka-2:9093", "3@kafka-3:9093"]
    assert (cluster_env["KAFKA_REPLICATION"], cluster_env["KAFKA_MIN_ISR"]) == ("3", "2")
    assert set(cluster_env["KAFKA_BOOTSTRAP"].split(",")) == {f"{name}:9092" for name in nodes}
    node_ids = sorted(int(spec["environment"]["KAFKA_NODE_ID"]) for spec in nodes.values())
    assert node_ids == [1, 2, 3]


def test_prometheus_scrapes_each_service_on_its_status_port():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {target for job in config["scrape_configs"] for group in job["static_configs"]
               for target in group["targets"]}
    ports = {"ingest": "ingest_port", "api": "api_port", "projector": "projector_metrics_port",
             "sla": "sla_metrics_port", "notifier": "notifier_metrics_port", "imap": "imap_metrics_port"}
    expected = {f"{service}:{Settings.model_fields[field].default}" for service, field in ports.items()}
    assert targets == expected
    assert {target.split(":")[0] for target in targets} <= set(SERVICES)


def test_the_sample_configuration_loads_and_production_refuses_its_placeholders(monkeypatch):
    for name in ("TOUCHPOINT_CONFIG", "TOUCHPOINT_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    sample = ROOT / "deploy/compose/touchpoint.toml"
    settings = load_settings(sample)
    assert settings.file.webhooks.forms["complaint"].topic == "complaint"
    with pytest.raises(ConfigError, match="production"):
        load_settings(sample, environment="production")
