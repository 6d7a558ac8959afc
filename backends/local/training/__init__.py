"""Training on the local backend: CreateProjectVersion and the job behind it.

In the gateway:

    service.py     the RPC, the background job, restart safety (TrainingService)
    inputs.py      which manifests a version trains and tests on; reading them line by line
    validation.py  the validation stage (spec 02 §2): file checks, line verdicts, use case,
                   auto-split, content checks, the three validation output files
    tally.py       per-manifest counts and label sets from the line verdicts; the use case
    content_checks.py  the §2.4 content errors and the manifest_summary.json document
    outputs.py     the output key layout under OutputConfig (§4.3, §6.1, §7) and the writes
    examples.py    validated lines -> TrainingRequest: examples, the task, local images
    trainer.py     the training stage: a worker process per job, its outputs published
    processes.py   starting, stopping and recognising worker processes
    progress.py    progress in the store; the WatchProjectVersion stream
    bundle.py      the trained model's files in the models bucket; ExportProjectVersion
    metrics.py     Prometheus series of the jobs

In the worker process (`python -m labelgate.backends.local.training.worker job.json`):

    worker.py           train (ml/), evaluate (evaluation/), write the outputs
    jobfile.py          job.json <-> TrainingRequest
    worker_protocol.py  the JSON lines the worker prints and the gateway reads
    contract.py         the typed boundary between job, learner and evaluation

`TrainingService` is imported lazily, so the worker does not load the gateway's modules.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingService"]


def __getattr__(name: str) -> Any:
    if name == "TrainingService":
        from labelgate.backends.local.training.service import TrainingService

        return TrainingService
    raise AttributeError(name)
