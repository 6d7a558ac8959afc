"""Prometheus series of the training jobs (docs/architecture.md): seconds and jobs by status.

The gateway hands the local backend its registry (`register_metrics`), so these appear on
the same /metrics page; without one they live in a private registry nobody scrapes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class TrainingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.jobs = Counter(
            "labelgate_training_jobs", "Training jobs that ended, by final status.",
            ["status"], registry=registry,
        )
        self.seconds = Counter(
            "labelgate_training_seconds",
            "Billable training time of successful jobs (worker wall-clock seconds).",
            registry=registry,
        )
        self.workers = Gauge(
            "labelgate_training_workers", "Training worker processes running now.",
            registry=registry,
        )

    def job_ended(self, status: str, billable_seconds: float = 0) -> None:
        self.jobs.labels(status).inc()
        if billable_seconds:
            self.seconds.inc(billable_seconds)

    def worker_running(self, running: bool) -> None:
        (self.workers.inc if running else self.workers.dec)()
