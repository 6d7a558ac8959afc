"""deploy/grafana/labelgate.json charts only series the gateway and local backend export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from labelgate.backends.local.serving.serving_metrics import ServingMetrics
from labelgate.backends.local.training.job_metrics import TrainingMetrics
from labelgate.server.metrics import GatewayMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "labelgate.json"


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
             "gauge": ("",), "info": ("_info",)}


def _exported() -> set[str]:
    """Every series name the registries can export (labelled families have no samples until a
    label is used, so names come from the families' types)."""
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    ServingMetrics(registry)
    TrainingMetrics(registry)
    return {family.name + suffix for family in registry.collect()
            for suffix in _SUFFIXES[family.type]}


def test_every_dashboard_query_names_an_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for q in queries for name in re.findall(r"\blabelgate_[a-z0-9_]+", q)}
    exported = _exported()
    assert used, "the dashboard queries no labelgate series"
    assert sorted(used - exported) == []
    # The serving series the issue names are all charted.
    for name in ("labelgate_inference_units_desired", "labelgate_inference_units_in_service",
                 "labelgate_inference_unit_seconds_total", "labelgate_inference_unit_capacity",
                 "labelgate_detect_throttled_total", "labelgate_detect_images_total",
                 "labelgate_detect_duration_seconds_bucket"):
        assert name in used, name
