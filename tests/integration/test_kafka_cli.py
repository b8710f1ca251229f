"""`touchpoint kafka start|status|stop` run a real local broker from a data directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.kafka.local_broker import port_open
from tests.infra.ports import free_port

pytestmark = pytest.mark.integration


def touchpoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, capture_output=True, text=True, timeout=180)


def test_kafka_start_status_stop(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "TOUCHPOINT_DATA_DIR": str(tmp_path / "var"),
        "TOUCHPOINT_KAFKA_PORT": str(port),
        "TOUCHPOINT_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    env.pop("TOUCHPOINT_KAFKA_BOOTSTRAP", None)
    try:
        start = touchpoint("kafka", "start", env=env)
        assert start.returncode == 0, start.stderr
        assert f"127.0.0.1:{port}" in start.stdout
        assert port_open(port)
        status = touchpoint("kafka", "status", env=env)
        assert status.returncode == 0 and "running" in status.stdout
    finally:
        stop = touchpoint("kafka", "stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert not port_open(port)
    status = touchpoint("kafka", "status", env=env)
    assert status.returncode == 1 and "stopped" in status.stdout


def test_unimplemented_usage_and_bad_config_have_the_contract_exit_codes(tmp_path):
    env = {**os.environ, "TOUCHPOINT_CONFIG": str(tmp_path / "missing.toml")}
    result = touchpoint("kafka", "status", env=env)
    assert result.returncode == 1
    assert "missing.toml does not exist" in result.stderr
    assert touchpoint("no-such-command", env=os.environ.copy()).returncode == 2
