"""Training on the local backend: CreateProjectVersion and the job behind it.

In the gateway:

    training_service.py  the RPC, the background job, restart safety (TrainingService)
    inputs.py            which manifests a version trains and tests on; reading them
    validation_stage.py  the validation stage (docs/reference/training.md §2): file checks,
                         line verdicts, use case, auto-split, content checks, output files
    outputs.py           the output key layout under OutputConfig (§4.3, §6.1, §7)
    examples.py          validated lines -> TrainingRequest: examples, the task, local images
    trainer.py           the training stage: a worker process per job, outputs published
    progress.py          progress in the store; the WatchProjectVersion stream
    failures.py          what a failed training tells the person who asked for it
    job_metrics.py       Prometheus series of the jobs

In the worker process (`python -m labelgate.backends.local.training.worker job.json`):

    worker.py           train (a learner plugin), evaluate (evaluation/), write outputs
    jobfile.py          job.json <-> TrainingRequest
    worker_protocol.py  the JSON lines the worker prints and the gateway reads
    contract.py         the typed boundary between job, learner and evaluation
    learners/           the learners (torch), registered as `labelgate.learners` plugins
    evaluation/         test-set predictions -> the AWS evaluation files and the report

`TrainingService` is imported lazily, so the worker does not load the gateway's modules.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingService"]


def __getattr__(name: str) -> Any:
    if name == "TrainingService":
        from labelgate.backends.local.training.training_service import TrainingService

        return TrainingService
    raise AttributeError(name)
