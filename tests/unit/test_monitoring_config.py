"""The alert rules and the Grafana dashboard query only metrics the services really export."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MONITORING_FILES = (DEPLOY / "prometheus" / "alerts.yml", DEPLOY / "grafana" / "touchpoint-streams.json")
METRICS_MODULES = (
    "shared.metrics",
    "services.ingest.http.metrics",
    "services.ingest.imap.metrics",
    "services.notifier.metrics",
    "services.projector.metrics",
    "services.projector.complaints.metrics",
    "services.projector.ops.streams",
)
# the series a metric family of each type exposes, by suffix
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def exported_series() -> set[str]:
    for module in METRICS_MODULES:
        importlib.import_module(module)
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("touchpoint_")
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def referenced_series(path: Path) -> set[str]:
    return set(re.findall(r"\btouchpoint_[a-z0-9_]+", path.read_text()))


@pytest.mark.parametrize("path", MONITORING_FILES, ids=lambda p: p.name)
def test_every_metric_a_rule_or_panel_queries_is_exported(path: Path):
    referenced = referenced_series(path)
    assert referenced, f"{path.name} queries no touchpoint metric"
    missing = sorted(referenced - exported_series())
    assert not missing, f"{path.name} queries metrics no service exports: {', '.join(missing)}"


def test_a_misspelt_metric_is_caught():
    assert "touchpoint_sla_breaches_total" not in exported_series()
    assert {"touchpoint_publish_seconds_bucket", "touchpoint_notifier_sent_total"} <= exported_series()
