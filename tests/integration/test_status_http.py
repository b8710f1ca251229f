"""The workers' status endpoints: metrics, liveness, and readiness that follows Kafka."""

from __future__ import annotations

import httpx
import pytest

from shared.config import ConfigError
from tests.infra.ports import free_port
from shared.status_http import serve_status

pytestmark = pytest.mark.integration


def test_status_endpoints_report_metrics_health_and_dependencies(kafka_settings, settings_factory):
    kafka_settings.data_dir.mkdir(parents=True, exist_ok=True)  # where the SQLite file lives
    port = free_port()
    server = serve_status("projector", kafka_settings, port)
    try:
        base = f"http://127.0.0.1:{port}"
        assert "touchpoint_events_published_total" in httpx.get(f"{base}/metrics").text
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "service": "projector"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": "ok", "database": "ok"}
        assert httpx.get(f"{base}/other").status_code == 404
    finally:
        server.shutdown()

    unreachable = settings_factory(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    port = free_port()
    server = serve_status("sla", unreachable, port)
    try:
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"].startswith("unreachable")
        with pytest.raises(ConfigError, match="TOUCHPOINT_SLA_METRICS_PORT"):
            serve_status("sla", unreachable, port)
    finally:
        server.shutdown()
