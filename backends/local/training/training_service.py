"""CreateProjectVersion on the local backend, and the background job that follows it.

The RPC checks the request, commits the version in TRAINING_IN_PROGRESS (`The model is
being trained.`) together with its job (`pending_job`: the resolved inputs and the stage)
and returns the ARN at once. The job then runs as an asyncio task: the validation stage on
a worker thread (validation.py), then the trainer (trainer.py), which runs the learning in
a worker process. Every end is recorded in one transaction that also sets
TrainingEndTimestamp:

* manifest file error / unwritable output: TRAINING_FAILED, the bare message, no outputs;
* content errors: TRAINING_FAILED, the first error's message, Validation + ManifestSummary;
* validation passed: the outputs are recorded (still in progress), then the trainer runs;
  success: TRAINING_COMPLETED (`The model is ready to run.`), BillableTrainingTimeInSeconds,
  EvaluationResult, TrainingDataResult/TestingDataResult.Output, the model bundle;
  a failed worker: TRAINING_FAILED with the trainer's message (TrainingFailed);
* anything unexpected: TRAINING_FAILED, `Amazon Rekognition experienced a service issue.`

Progress (the stage, and the worker's epochs, loss, metric, ETA) is recorded as it comes
(progress.py) and streamed by WatchProjectVersion.

Restarts: `resume()` stops any worker a dead gateway left behind (by its recorded pid, if
it really is that job's worker) and runs again every job left TRAINING_IN_PROGRESS (the
stages are idempotent: they rewrite the same outputs). A job whose training stage was
started `max_attempts` times, or whose job cannot be read, is failed instead. `close()`
stops running workers; their jobs stay pending and resume at the next start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext
from labelgate.backends.local.blobs.stores import BlobStore, BlobStoreUnavailable
from labelgate.backends.local.core.arns import ArnFactory, creation_time
from labelgate.backends.local.core.background import BackgroundJobs, JobInterrupted
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import TagStore, find_project
from labelgate.backends.local.store.statuses import TRAINING_IN_PROGRESS
from labelgate.backends.local.store.tables import Project, ProjectVersion, utcnow
from labelgate.backends.local.training.contract import Progress
from labelgate.backends.local.training.failures import internal_failure_message
from labelgate.backends.local.training.inputs import TrainingInputs, resolve_inputs
from labelgate.backends.local.training.job_metrics import TrainingMetrics
from labelgate.backends.local.training.outputs import OutputLocation
from labelgate.backends.local.training.progress import (
    VALIDATING,
    ProgressHub,
    record_progress,
)
from labelgate.backends.local.training.trainer import (
    Trainer,
    TrainerConfig,
    TrainingCompleted,
    TrainingFailed,
    TrainingTarget,
    WorkerTrainer,
)
from labelgate.backends.local.training.validation_stage import (
    ContentFailure,
    FileFailure,
    TrainingDataValidator,
    ValidationOutputs,
    ValidationPassed,
)
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.manifests import ManifestLimits
from labelgate.errors import (
    InvalidParameterException,
    ResourceInUseException,
    ValidationException,
)
from labelgate.shapes import to_aws
from labelgate.v1 import custom_labels_pb2 as pb

log = logging.getLogger(__name__)

TRAINING_COMPLETED = "TRAINING_COMPLETED"
TRAINING_FAILED = "TRAINING_FAILED"
IN_PROGRESS_MESSAGE = "The model is being trained."
COMPLETED_MESSAGE = "The model is ready to run."
RESUME_FAILED_MESSAGE = internal_failure_message("The interrupted training could not be resumed")

# Stages of `pending_job`; any other (an older or newer gateway's) is failed at resume.
VALIDATION_STAGE = "validation"
TRAINING_STAGE = "training"
RESUMABLE_STAGES = frozenset({VALIDATION_STAGE, TRAINING_STAGE})

#: CreateProjectVersion's TrainingBudgetSeconds (an extension): one minute up to the 24 hours
#: AWS allows a training.
MIN_TRAINING_BUDGET_S, MAX_TRAINING_BUDGET_S = 60, 86_400


def training_budget(request: pb.CreateProjectVersionRequest) -> float | None:
    """The version's own training budget in seconds; None leaves the gateway's setting."""
    if not request.HasField("training_budget_seconds"):
        return None
    value = request.training_budget_seconds
    if value < MIN_TRAINING_BUDGET_S:
        rule = f"greater than or equal to {MIN_TRAINING_BUDGET_S}"
    elif value > MAX_TRAINING_BUDGET_S:
        rule = f"less than or equal to {MAX_TRAINING_BUDGET_S}"
    else:
        return float(value)
    raise ValidationException(
        f"1 validation error detected: Value '{value}' at 'trainingBudgetSeconds' failed to "
        f"satisfy constraint: Member must have value {rule}")


def _with_validation(result: dict[str, Any] | None, location: Any) -> dict[str, Any]:
    """A Training/TestingDataResult with its `Validation` (one Asset, training.md §4.3)."""
    return {**(result or {}), "Validation": {"Assets": [location.asset()]}}


class UnreadableJob(Exception):
    """The stored job is not one this gateway can run (damaged, or another version's)."""


class TooManyAttempts(Exception):
    """The job's training stage was started too often (a crash loop): fail it."""


def _with_output(result: dict[str, Any] | None, location: Any, **extra: Any) -> dict[str, Any]:
    """A Training/TestingDataResult with its `Output`: the snapshot (training.md §7)."""
    return {**(result or {}), "Output": {"Assets": [location.asset()], **extra}}


def _record_outputs(version: ProjectVersion, outputs: ValidationOutputs) -> None:
    version.training_data_result = _with_validation(
        version.training_data_result, outputs.training_validation
    )
    version.testing_data_result = _with_validation(
        version.testing_data_result, outputs.testing_validation
    )
    version.manifest_summary = outputs.summary.ground_truth_manifest()


class TrainingService:
    """CreateProjectVersion and its jobs; `resume()` at backend start, `close()` at stop."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        arns: ArnFactory,
        tags: TagStore,
        *,
        limits: ManifestLimits | None = None,
        images: ImageProbe | None = None,
        trainer: Trainer | None = None,
        data_dir: Path | None = None,
        config: TrainerConfig | None = None,
        metrics: TrainingMetrics | None = None,
        max_concurrent_jobs: int = 2,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._arns = arns
        self._tags = tags
        self._background = BackgroundJobs("training", max_concurrent_jobs)
        self.config = config or TrainerConfig()
        self.hub = ProgressHub()
        self.metrics = metrics or TrainingMetrics()
        if trainer is None:
            if data_dir is None:
                raise ValueError("TrainingService needs a data_dir for its worker trainer")
            trainer = WorkerTrainer(db=db, blobs=blobs, data_dir=data_dir, config=self.config,
                                    stop=self._background.stop, on_progress=self.hub.notify,
                                    on_worker=self.metrics.worker_running,
                                    in_thread=self._background.in_thread)
        self._trainer = trainer
        self._validator = TrainingDataValidator(
            db=db, blobs=blobs, limits=limits or ManifestLimits(),
            images=images or ImageProbe(blobs),
            stop=self._background.stop,
        )

    # -- CreateProjectVersion ---------------------------------------------------------------
    async def create_project_version(
        self, request: pb.CreateProjectVersionRequest, context: RequestContext
    ) -> pb.CreateProjectVersionResponse:
        name = request.version_name
        if not name:
            raise InvalidParameterException("VersionName is required")
        output = request.output_config
        if not request.HasField("output_config") or not output.s3_bucket:
            raise InvalidParameterException("OutputConfig needs an S3Bucket")
        budget = training_budget(request)
        project_arn = request.project_arn
        in_use = ResourceInUseException(
            f"The project {project_arn} already has a model version named {name}"
        )

        def work(session: Session) -> tuple[int, str]:
            project = find_project(session, project_arn, lock=True)
            taken = exists().where(
                ProjectVersion.project_id == project.id, ProjectVersion.name == name
            )
            if session.scalar(select(taken)):
                raise in_use
            inputs = resolve_inputs(session, project, request)
            arn = self._arns.version(project.name, name)
            version = ProjectVersion(
                arn=arn,
                project_id=project.id,
                name=name,
                status=TRAINING_IN_PROGRESS,
                status_message=IN_PROGRESS_MESSAGE,
                description=request.version_description or None,
                output_config=to_aws(output),
                kms_key_id=request.kms_key_id or None,
                feature_config=(to_aws(request.feature_config)
                                if request.HasField("feature_config") else None),
                training_data_result={"Input": inputs.training_input()},
                testing_data_result={"Input": inputs.testing_input()},
                pending_job={"stage": VALIDATION_STAGE, "inputs": inputs.to_json(),
                             "time_budget_s": budget},
                created_at=creation_time(arn),
            )
            session.add(version)
            session.flush()
            self._tags.set_tags(session, arn, dict(request.tags))
            return version.id, arn

        try:
            version_id, arn = await self._db.run(work)
        except IntegrityError:
            raise in_use from None  # a concurrent create of the same name won
        self._start_job(version_id)
        return pb.CreateProjectVersionResponse(project_version_arn=arn)

    # -- the job ------------------------------------------------------------------------------
    def _start_job(self, version_id: int) -> None:
        self._background.start(version_id, lambda: self._run_job(version_id))

    async def _run_job(self, version_id: int) -> None:
        try:
            await self._run_stages(version_id)
        except JobInterrupted:
            log.info("model version %s: training interrupted; it resumes at the next start",
                     version_id)
        except TooManyAttempts as exc:
            log.error("model version %s: %s", version_id, exc)
            await self._finish(version_id, TRAINING_FAILED, internal_failure_message(str(exc)))
        except UnreadableJob as exc:
            log.error("model version %s: %s", version_id, exc)
            await self._finish(version_id, TRAINING_FAILED, RESUME_FAILED_MESSAGE)
        except BlobStoreUnavailable as exc:  # an outage at any stage, never a data error
            log.warning("model version %s: %s", version_id, exc)
            await self._finish(version_id, TRAINING_FAILED, internal_failure_message(str(exc)))
        except Exception:
            log.exception("model version %s: training job failed", version_id)
            await self._finish(version_id, TRAINING_FAILED, internal_failure_message(
                "Training stopped on an unexpected error in the gateway"))

    async def _progress(self, version_id: int, progress: Progress) -> None:
        await self._db.run(lambda s: record_progress(s, version_id, progress))
        await self.hub.notify()

    async def _run_stages(self, version_id: int) -> None:
        loaded = await self._db.run(lambda s: self._load_job(s, version_id))
        if loaded is None:
            return  # finished meanwhile
        target, inputs = loaded
        await self._progress(version_id, Progress(stage=VALIDATING,
                                                  message="validating the training data"))
        outcome = await self._background.in_thread(
            self._validator.validate, inputs, target.output
        )
        if isinstance(outcome, FileFailure):
            await self._finish(version_id, TRAINING_FAILED, outcome.message)
            return
        if isinstance(outcome, ContentFailure):
            await self._finish(version_id, TRAINING_FAILED, outcome.message,
                               outputs=outcome.outputs)
            return
        assert isinstance(outcome, ValidationPassed)
        await self._enter_training(version_id, outcome.outputs)
        try:
            completed = await self._trainer(target, outcome.inputs)
        except TrainingFailed as exc:
            await self._finish(version_id, TRAINING_FAILED, exc.status_message)
            return
        await self._complete(version_id, completed, auto_split=outcome.inputs.auto_split)

    def _load_job(self, session: Session, version_id: int
                  ) -> tuple[TrainingTarget, TrainingInputs] | None:
        row = session.execute(
            select(ProjectVersion, Project.name)
            .join(Project, Project.id == ProjectVersion.project_id)
            .where(ProjectVersion.id == version_id,
                   ProjectVersion.status == TRAINING_IN_PROGRESS)
        ).first()
        if row is None:
            return None
        version, project_name = row
        job = version.pending_job or {}
        if job.get("stage") not in RESUMABLE_STAGES or "inputs" not in job:
            raise UnreadableJob(f"unreadable training job {job!r}")
        attempts = int(job.get("attempts", 0))
        if attempts >= self.config.max_attempts:
            raise TooManyAttempts(f"Training was interrupted {attempts} times; it is not "
                                  "started again.")
        target = TrainingTarget(
            version_id=version.id,
            version_arn=version.arn,
            project_name=project_name,
            version_name=version.name,
            output=OutputLocation.from_output_config(version.output_config or {}, version.name),
            kms_key_id=version.kms_key_id,
            created_at=version.created_at,
            time_budget_s=job.get("time_budget_s"),
        )
        return target, TrainingInputs.from_json(job["inputs"])

    # -- recording the ends -------------------------------------------------------------------
    async def _enter_training(self, version_id: int, outputs: ValidationOutputs) -> None:
        """Validation passed: its outputs become visible; the trainer's stage begins."""

        def work(session: Session) -> None:
            version = self._in_progress(session, version_id)
            if version is None:
                return
            _record_outputs(version, outputs)
            job = version.pending_job or {}
            version.pending_job = {**job, "stage": TRAINING_STAGE,
                                   "attempts": int(job.get("attempts", 0)) + 1}

        await self._db.run(work)

    async def _finish(self, version_id: int, status: str, message: str, *,
                      outputs: ValidationOutputs | None = None) -> None:
        def work(session: Session) -> bool:
            version = self._in_progress(session, version_id)
            if version is None:
                return False
            if outputs is not None:
                _record_outputs(version, outputs)
            version.status = status
            version.status_message = message
            version.training_ended_at = utcnow()
            version.pending_job = None
            version.worker_pid = version.worker_host = None
            return True

        if await self._db.run(work):
            self.metrics.job_ended(status)
        await self.hub.notify()

    async def _complete(self, version_id: int, completed: TrainingCompleted, *,
                        auto_split: bool = False) -> None:
        def work(session: Session) -> bool:
            version = self._in_progress(session, version_id)
            if version is None:
                return False
            version.status = TRAINING_COMPLETED
            version.status_message = COMPLETED_MESSAGE
            version.training_ended_at = utcnow()
            version.billable_training_seconds = completed.billable_training_seconds
            if completed.evaluation_result is not None:
                version.evaluation_result = completed.evaluation_result
            if completed.training_output is not None:
                version.training_data_result = _with_output(
                    version.training_data_result, completed.training_output)
            if completed.testing_output is not None:
                version.testing_data_result = _with_output(
                    version.testing_data_result, completed.testing_output,
                    AutoCreate=auto_split)
            if completed.model_bundle is not None:
                version.model_bundle = completed.model_bundle
            version.pending_job = None
            version.worker_pid = version.worker_host = None
            return True

        if await self._db.run(work):
            self.metrics.job_ended(TRAINING_COMPLETED, completed.billable_training_seconds)
        await self.hub.notify()

    @staticmethod
    def _in_progress(session: Session, version_id: int) -> ProjectVersion | None:
        """The version, if its training has not ended yet (locked for the update)."""
        return session.scalar(
            select(ProjectVersion)
            .where(ProjectVersion.id == version_id,
                   ProjectVersion.status == TRAINING_IN_PROGRESS)
            .with_for_update()
        )

    # -- lifecycle --------------------------------------------------------------------------------
    async def resume(self) -> None:
        """Run again every job a previous run left TRAINING_IN_PROGRESS; fail the versions
        whose job cannot be read, so nothing stays in progress for ever."""
        self._background.open()
        reopen = getattr(self._trainer, "reopen", None)
        if reopen is not None:
            reopen()

        def pending(session: Session) -> list[tuple[int, Any, int | None, str | None]]:
            rows = session.execute(
                select(ProjectVersion.id, ProjectVersion.pending_job,
                       ProjectVersion.worker_pid, ProjectVersion.worker_host)
                .where(ProjectVersion.status == TRAINING_IN_PROGRESS)
                .order_by(ProjectVersion.id)
            )
            return list(rows.tuples())

        stop_stale = getattr(self._trainer, "stop_stale_worker", None)
        for version_id, job, pid, host in await self._db.run(pending):
            if pid is not None and stop_stale is not None:
                try:
                    await stop_stale(version_id, pid, host)
                except Exception:  # never a reason for the backend not to start
                    log.exception("model version %s: could not stop its old worker %s",
                                  version_id, pid)
            if isinstance(job, dict) and job.get("stage") in RESUMABLE_STAGES:
                self._start_job(version_id)
            else:
                log.warning("model version %s: training job %r cannot be resumed", version_id,
                            job)
                await self._finish(version_id, TRAINING_FAILED, RESUME_FAILED_MESSAGE)

    async def close(self) -> None:
        """Interrupt running jobs and stop their workers (the jobs stay pending and resume
        at the next start)."""
        self._background.stop.set()
        terminate = getattr(self._trainer, "terminate", None)
        if terminate is not None:
            await terminate()
        await self._background.close()

    async def wait_idle(self) -> None:
        """Wait until no job runs (tests, orderly shutdown)."""
        await self._background.wait_idle()


__all__ = ["TrainingService"]
