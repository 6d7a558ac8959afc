"""Prometheus series of serving (docs/architecture.md, Metrics): units, usage, detect traffic.

Every series carries `project_version` ("project/version" names) and exists for running
models only: a model's series are removed when it stops. The gateway hands the local backend
its registry (`register_metrics`); without one they live in a private registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LABEL = "project_version"
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.desired = Gauge(
            "labelgate_inference_units_desired",
            "Inference units the model is scaling to (AWS DesiredInferenceUnits).",
            [LABEL], registry=registry,
        )
        self.in_service = Gauge(
            "labelgate_inference_units_in_service",
            "Inference units serving the model now (AWS InServiceInferenceUnits).",
            [LABEL], registry=registry,
        )
        self.unit_seconds = Counter(
            "labelgate_inference_unit_seconds",
            "Inference units in service times seconds (what running a model is billed by).",
            [LABEL], registry=registry,
        )
        self.capacity = Gauge(
            "labelgate_inference_unit_capacity",
            "Images per second one inference unit of the model sustains (calibrated at start).",
            [LABEL], registry=registry,
        )
        self.throttled = Counter(
            "labelgate_detect_throttled",
            "DetectCustomLabels calls refused with ProvisionedThroughputExceededException.",
            [LABEL], registry=registry,
        )
        self.detects = Counter(
            "labelgate_detect_images",
            "Images DetectCustomLabels analysed successfully.",
            [LABEL], registry=registry,
        )
        self.latency = Histogram(
            "labelgate_detect_duration_seconds",
            "DetectCustomLabels time in the backend: decode, preprocess, model, postprocess.",
            [LABEL], buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self._all = (self.desired, self.in_service, self.unit_seconds, self.capacity,
                     self.throttled, self.detects, self.latency)

    def started(self, label: str, units: int, capacity: float) -> None:
        self.desired.labels(label).set(units)
        self.in_service.labels(label).set(units)
        self.capacity.labels(label).set(capacity)
        for metric in (self.unit_seconds, self.throttled, self.detects):
            metric.labels(label)  # present at 0 from the start
        self.latency.labels(label)

    def stopped(self, label: str) -> None:
        """Drop the model's series: labels exist for running models only."""
        for metric in self._all:
            try:
                metric.remove(label)
            except KeyError:
                pass


__all__ = ["LABEL", "ServingMetrics"]
