"""Turning validated training data into a model, in a worker process.

`WorkerTrainer` is called once validation passed (validation.py), with the version still
TRAINING_IN_PROGRESS and its validation outputs recorded:

1. the job's folder, `<data_dir>/training/<version id>/`, is emptied, and the usable lines
   become a `TrainingRequest` with local image copies (examples.py), written as job.json;
2. at most `max_concurrent_jobs` workers run at once (stage `queued` while waiting);
3. the worker (`python -m labelgate.backends.local.training.worker job.json`) runs with
   stderr in `worker.log`; its pid is recorded, its progress lines go to the store as they
   come (at most one write per `progress_interval_s`, the last one always);
4. on success the outputs are uploaded: the evaluation summary, snapshots and report under
   OutputConfig (training.md §4.3, §6.1), the model bundle into the models bucket (bundle.py);
   the copies and outputs are then removed from the folder (job.json and the logs stay;
   a new attempt keeps the previous attempt's log as worker.previous.log).

A worker that fails (non-zero exit, a signal, no result line) raises `TrainingFailed`, whose
message says what went wrong in the user's terms (failures.py) but never a server path or a
traceback; the worker log's last lines go to the gateway's log for operators.
`terminate()` stops every running worker (the service's close()); the job then raises
JobInterrupted and stays pending for the next start.

`Trainer` is the seam: anything with WorkerTrainer's call signature can stand in (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from labelgate.backends.base import BackendSettings, settings_part
from labelgate.backends.local.blobs.bundles import DEFAULT_MODELS_BUCKET, ModelBundle, upload_bundle
from labelgate.backends.local.blobs.stores import BlobStore
from labelgate.backends.local.core import processes
from labelgate.backends.local.core.background import JobInterrupted
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.tables import ProjectVersion
from labelgate.backends.local.training.contract import Progress, TrainingSettings
from labelgate.backends.local.training.examples import TrainingDataError, build_request
from labelgate.backends.local.training.failures import (
    SERVICE_ISSUE_MESSAGE,
    image_copy_message,
    internal_failure_message,
    worker_failure_message,
)
from labelgate.backends.local.training.jobfile import TrainingJob, write_job
from labelgate.backends.local.training.learner_plugins import UnknownLearner, check_installed
from labelgate.backends.local.training.outputs import (
    BlobLocation,
    OutputLocation,
    OutputNotWritable,
    upload_file,
)
from labelgate.backends.local.training.progress import PREPARING, QUEUED, record_progress
from labelgate.backends.local.training.validation_stage import ValidatedInputs
from labelgate.backends.local.training.worker_protocol import (
    WorkerError,
    WorkerResult,
    parse_line,
)
from labelgate.backends.local.validation.manifests import FILE_ERROR_MESSAGES
from labelgate.errors import InvalidS3ObjectException

log = logging.getLogger(__name__)

OUTPUT_MESSAGE = FILE_ERROR_MESSAGES["ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET"]
JOB_FILE, LOG_FILE, PREVIOUS_LOG_FILE = "job.json", "worker.log", "worker.previous.log"
TRAINING_DIR = "training"


class TrainingFailed(Exception):
    """The job failed; `status_message` is what StatusMessage says."""

    def __init__(self, status_message: str) -> None:
        super().__init__(status_message)
        self.status_message = status_message


@dataclass(frozen=True)
class TrainingTarget:
    """The model version being trained."""

    version_id: int
    version_arn: str
    project_name: str
    version_name: str
    output: OutputLocation  # where the evaluation files go (training.md §4.3, §6.1)
    kms_key_id: str | None
    created_at: dt.datetime | None = None  # CreationTimestamp, the start of training
    # CreateProjectVersion's TrainingBudgetSeconds (an extension); None: the config's.
    time_budget_s: float | None = None

    @property
    def creation_ms(self) -> str:
        """The ARN's last segment (creation time in epoch milliseconds)."""
        return self.version_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TrainingCompleted:
    """What a successful trainer reports; the service records it with the version."""

    billable_training_seconds: int
    evaluation_result: dict[str, Any] | None = None  # the AWS EvaluationResult shape
    training_output: BlobLocation | None = None  # TrainingDataResult.Output (snapshot)
    testing_output: BlobLocation | None = None  # TestingDataResult.Output (snapshot)
    model_bundle: dict[str, Any] | None = None  # bundle.ModelBundle.to_json()


Trainer = Callable[[TrainingTarget, ValidatedInputs], Awaitable[TrainingCompleted]]


# --- settings -------------------------------------------------------------------------------------


class TrainingKeys(BackendSettings):
    """The training keys of `[backends.local]` (part of the local backend's LocalSettings);
    TrainerConfig is their view."""

    models_bucket: str = DEFAULT_MODELS_BUCKET
    # None or 0: the learner sizes the training itself.
    training_time_budget_seconds: float | None = Field(None, ge=0, allow_inf_nan=False)
    training_device: str = "auto"
    training_threads: int | None = Field(None, ge=0)  # None or 0: every core
    training_seed: int = Field(0, ge=0)
    training_backbone: str = "efficientnet_lite0"
    training_learner: str = "automl"
    max_training_jobs: int = Field(1, ge=1)

    @field_validator("training_device")
    @classmethod
    def _device(cls, device: str) -> str:
        if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
            raise ValueError(f"must be auto, cpu, cuda or cuda:N, got {device!r}")
        return device

    @field_validator("training_learner")
    @classmethod
    def _installed(cls, name: str) -> str:
        try:
            check_installed(name)
        except UnknownLearner as exc:
            raise ValueError(str(exc)) from None
        return name


@dataclass(frozen=True)
class TrainerConfig:
    """The trainer's settings: a view of the typed `[backends.local]` settings (keys in
    parentheses)."""

    models_bucket: str = DEFAULT_MODELS_BUCKET  # (models_bucket)
    time_budget_s: float | None = None  # (training_time_budget_seconds) None: AutoML sizes it
    device: str = "auto"  # (training_device) auto | cpu | cuda | cuda:N
    threads: int | None = None  # (training_threads) None: every core
    seed: int = 0  # (training_seed)
    backbone: str = "efficientnet_lite0"  # (training_backbone)
    learner: str = "automl"  # (training_learner) the learner plugin that trains
    max_concurrent_jobs: int = 1  # (max_training_jobs) worker processes at once
    max_attempts: int = 3  # starts of one job's training stage before it is failed
    progress_interval_s: float = 0.5
    terminate_grace_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: TrainingKeys) -> TrainerConfig:
        return cls(
            models_bucket=settings.models_bucket,
            time_budget_s=settings.training_time_budget_seconds or None,  # 0: no budget too
            device=settings.training_device,
            threads=settings.training_threads or None,
            seed=settings.training_seed,
            backbone=settings.training_backbone,
            learner=settings.training_learner,
            max_concurrent_jobs=settings.max_training_jobs,
        )

    @classmethod
    def from_config(cls, config: TrainingKeys | Mapping[str, Any]) -> TrainerConfig:
        """From typed settings, or a mapping (read for the TrainingKeys keys only)."""
        config = settings_part(TrainingKeys, config)
        return cls.from_settings(config)

    def settings(self, time_budget_s: float | None = None) -> TrainingSettings:
        """The worker's settings; `time_budget_s` (one version's own) replaces the config's."""
        budget = self.time_budget_s if time_budget_s is None else time_budget_s
        return TrainingSettings(seed=self.seed, time_budget_s=budget,
                                backbone=self.backbone, device=self.device,
                                threads=self.threads, learner=self.learner)


# --- the trainer ---------------------------------------------------------------------------------


@dataclass
class _Run:
    """One worker being watched."""

    process: asyncio.subprocess.Process
    started: float
    result: WorkerResult | None = None
    error: WorkerError | None = None


class WorkerTrainer:
    """Runs each job's learning in a worker process (see the module docstring)."""

    def __init__(
        self,
        *,
        db: Database,
        blobs: BlobStore,
        data_dir: Path,
        config: TrainerConfig | None = None,
        stop: threading.Event | None = None,
        on_progress: Callable[[], Awaitable[None]] | None = None,
        on_worker: Callable[[bool], None] | None = None,
        in_thread: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self._db = db
        # Long blocking steps (copying images, uploading outputs) run here: the service's
        # job threads, never the default executor every request's `db.run` needs.
        self._in_thread = in_thread or asyncio.to_thread
        self._blobs = blobs
        # Absolute: the worker runs in the job's folder and is handed this path.
        self._root = Path(data_dir).absolute() / TRAINING_DIR
        self.config = config or TrainerConfig()
        self._stop = stop or threading.Event()
        self._on_progress = on_progress
        self._on_worker = on_worker
        self._slots: asyncio.Semaphore | None = None
        self._closing: asyncio.Event | None = None
        self._running: dict[int, _Run] = {}

    def job_dir(self, version_id: int) -> Path:
        return self._root / str(version_id)

    def job_path(self, version_id: int) -> Path:
        return self.job_dir(version_id) / JOB_FILE

    def _events(self) -> tuple[asyncio.Semaphore, asyncio.Event]:
        if self._slots is None or self._closing is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent_jobs)
            self._closing = asyncio.Event()
        return self._slots, self._closing

    # -- the store ---------------------------------------------------------------------------
    async def _progress(self, version_id: int, progress: Progress) -> None:
        await self._db.run(lambda s: record_progress(s, version_id, progress))
        if self._on_progress is not None:
            await self._on_progress()

    async def _set_worker(self, version_id: int, pid: int | None) -> None:
        def work(session: Any) -> None:
            version = session.get(ProjectVersion, version_id)
            if version is not None:
                version.worker_pid = pid
                version.worker_host = processes.this_host() if pid is not None else None

        await self._db.run(work)

    async def stop_stale_worker(self, version_id: int, pid: int, host: str | None) -> None:
        """A previous gateway's worker for this version: stop it if it still runs."""
        await processes.stop_stale_worker(pid, host, self.job_path(version_id),
                                          grace_s=self.config.terminate_grace_s)
        await self._set_worker(version_id, None)

    # -- the job -----------------------------------------------------------------------------
    async def __call__(self, target: TrainingTarget, inputs: ValidatedInputs
                       ) -> TrainingCompleted:
        jobdir = self.job_dir(target.version_id)
        await asyncio.to_thread(_fresh_dir, jobdir)
        await self._progress(target.version_id, Progress(
            stage=PREPARING, message="copying the training and test images"))
        try:
            request = await self._in_thread(build_request, self._blobs, inputs, jobdir,
                                            self.config.settings(target.time_budget_s),
                                            self._stop)
        except TrainingDataError as exc:
            log.warning("model version %s: %s", target.version_id, exc)
            raise TrainingFailed(image_copy_message(str(exc))) from exc
        job = TrainingJob(request=request, version_arn=target.version_arn,
                          project_name=target.project_name, version_name=target.version_name,
                          created_at=target.created_at or dt.datetime.now(dt.UTC))
        job_path = jobdir / JOB_FILE
        await asyncio.to_thread(write_job, job, job_path)

        slots, closing = self._events()
        if slots.locked():
            await self._progress(target.version_id, Progress(
                stage=QUEUED, message="waiting for a free training slot"))
        await _acquire_or_close(slots, closing, self._stop)
        try:
            run = await self._run_worker(target.version_id, job_path)
        finally:
            slots.release()
        wall = time.monotonic() - run.started
        returncode = run.process.returncode
        if self._stop.is_set() and (returncode != 0 or run.result is None):
            raise JobInterrupted
        if returncode != 0 or run.result is None:
            await asyncio.to_thread(_log_failure, target, returncode, run, jobdir / LOG_FILE)
            await asyncio.to_thread(_tidy, jobdir)
            error = run.error
            raise TrainingFailed(worker_failure_message(
                returncode, error.type if error else None, error.message if error else ""))
        completed = await self._in_thread(self._publish, target, jobdir, run.result, wall)
        await asyncio.to_thread(_tidy, jobdir)
        return completed

    async def _run_worker(self, version_id: int, job_path: Path) -> _Run:
        jobdir = job_path.parent
        with (jobdir / LOG_FILE).open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                *processes.worker_command(job_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                cwd=jobdir,
                env=processes.worker_environment(self.config.threads),
                start_new_session=True,
                limit=1 << 20,  # a progress line is small; a result line a little bigger
            )
        run = _Run(process, time.monotonic())
        self._running[version_id] = run
        if self._on_worker is not None:
            self._on_worker(True)
        try:
            await self._set_worker(version_id, process.pid)
            await self._follow(version_id, run)
            await process.wait()
        except BaseException:
            await processes.terminate(process, self.config.terminate_grace_s)
            raise
        finally:
            self._running.pop(version_id, None)
            if self._on_worker is not None:
                self._on_worker(False)
            with contextlib.suppress(Exception):
                await self._set_worker(version_id, None)
        log.info("model version %s: worker %s %s after %.1f s", version_id, process.pid,
                 processes.describe_exit(process.returncode or 0),
                 time.monotonic() - run.started)
        return run

    async def _follow(self, version_id: int, run: _Run) -> None:
        """Read the worker's lines until it closes stdout; store progress, throttled."""
        assert run.process.stdout is not None
        pending: Progress | None = None
        last_write = 0.0
        while True:
            try:
                line = await run.process.stdout.readline()
            except ValueError:  # a line over the limit: not a protocol line
                continue
            if not line:
                break
            message = parse_line(line)
            if isinstance(message, Progress):
                pending = message
                if time.monotonic() - last_write >= self.config.progress_interval_s:
                    await self._progress(version_id, pending)
                    pending, last_write = None, time.monotonic()
            elif isinstance(message, WorkerResult):
                run.result = message
            elif isinstance(message, WorkerError):
                run.error = message
        if pending is not None:
            await self._progress(version_id, pending)

    # -- publishing ----------------------------------------------------------------------------
    def _publish(self, target: TrainingTarget, jobdir: Path, result: WorkerResult,
                 wall_s: float) -> TrainingCompleted:
        """Upload the outputs (OutputConfig) and the bundle (models bucket)."""
        output = target.output
        try:
            files = {name: result.path(jobdir, name) for name in (
                result.summary, result.training_snapshot, result.testing_snapshot,
                *result.model_files)}
            report = {name: result.path(jobdir, f"{result.report_dir}/{name}")
                      for name in result.report_files} if result.report_dir else {}
        except ValueError as exc:
            log.error("model version %s: %s", target.version_id, exc)
            raise TrainingFailed(internal_failure_message(
                "The training worker reported outputs outside its folder")) from exc
        summary_name = Path(result.summary).name
        summary = output.top_level(summary_name)
        training_snapshot = output.evaluation(Path(result.training_snapshot).name)
        testing_snapshot = output.evaluation(Path(result.testing_snapshot).name)
        try:
            for location, name in ((training_snapshot, result.training_snapshot),
                                   (testing_snapshot, result.testing_snapshot)):
                upload_file(self._blobs, location, files[name])
            for name, path in report.items():
                upload_file(self._blobs, output.evaluation("report", name), path)
            # The summary last: its presence says the evaluation files are complete.
            upload_file(self._blobs, summary, files[result.summary])
        except OutputNotWritable as exc:
            log.warning("model version %s: writing the evaluation outputs failed: %s",
                        target.version_id, exc)
            raise TrainingFailed(OUTPUT_MESSAGE) from exc

        bundle = ModelBundle.for_version(self.config.models_bucket, target.project_name,
                                         target.version_name, target.creation_ms)
        sources = {Path(name).name: files[name] for name in result.model_files}
        sources[summary_name] = files[result.summary]
        sources.update({f"report/{name}": path for name, path in report.items()})
        try:
            bundle = upload_bundle(self._blobs, bundle, sources)
        except (InvalidS3ObjectException, OSError) as exc:
            log.error("model version %s: storing the model in s3://%s failed: %s",
                      target.version_id, bundle.bucket, exc)
            raise TrainingFailed(internal_failure_message(
                f"The trained model could not be stored in the models bucket {bundle.bucket}"
            )) from exc
        bundle = bundle.with_files(bundle.files, summary=summary_name)
        return TrainingCompleted(
            billable_training_seconds=max(1, math.ceil(wall_s)),
            evaluation_result={"F1Score": result.f1_score,
                               "Summary": {"S3Object": summary.s3_object()}},
            training_output=training_snapshot,
            testing_output=testing_snapshot,
            model_bundle=bundle.to_json(),
        )

    # -- stopping ------------------------------------------------------------------------------
    async def terminate(self) -> None:
        """Stop every running worker (the gateway is stopping); their jobs stay pending."""
        _, closing = self._events()
        closing.set()
        runs = list(self._running.values())
        await asyncio.gather(*(processes.terminate(r.process, self.config.terminate_grace_s)
                               for r in runs), return_exceptions=True)

    def reopen(self) -> None:
        """Accept jobs again after terminate() (the backend is starting)."""
        if self._closing is not None:
            self._closing.clear()


async def _acquire_or_close(slots: asyncio.Semaphore, closing: asyncio.Event,
                            stop: threading.Event) -> None:
    """Take a worker slot, or raise JobInterrupted if the trainer closes first."""
    if closing.is_set() or stop.is_set():
        raise JobInterrupted
    acquire = asyncio.ensure_future(slots.acquire())
    closed = asyncio.ensure_future(closing.wait())
    try:
        await asyncio.wait((acquire, closed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        closed.cancel()
    if acquire.done() and not acquire.cancelled():
        if closing.is_set() or stop.is_set():
            slots.release()
            raise JobInterrupted
        return
    acquire.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await acquire
    if acquire.done() and not acquire.cancelled():
        slots.release()  # it was granted while being cancelled
    raise JobInterrupted


#: How much of a failed worker's log the gateway's log repeats for operators.
LOG_TAIL_LINES = 40


def _log_failure(target: TrainingTarget, returncode: int | None, run: _Run,
                 log_path: Path) -> None:
    """The operator's view of a failed worker: its exit, its error and its log's end."""
    try:
        with log_path.open("rb") as f:
            f.seek(max(0, log_path.stat().st_size - 64 * 1024))
            tail = f.read().decode("utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        tail = []
    error = f"{run.error.type}: {run.error.message}" if run.error else "no error reported"
    log.warning("model version %s (%s): training worker %s (%s); last lines of %s:\n%s",
                target.version_id, target.version_arn,
                processes.describe_exit(returncode if returncode is not None else -1),
                error, log_path, "\n".join(tail))


def _fresh_dir(path: Path) -> None:
    """Empty the job's folder for a new attempt; the last attempt's log stays (renamed), so
    a job that keeps being interrupted can still be diagnosed."""
    aside = path.parent / f".{path.name}.{PREVIOUS_LOG_FILE}"
    with contextlib.suppress(OSError):
        os.replace(path / LOG_FILE, aside)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.replace(aside, path / PREVIOUS_LOG_FILE)


def _tidy(jobdir: Path) -> None:
    """Keep job.json and the logs for people; the images and outputs are uploaded."""
    for entry in jobdir.iterdir():
        if entry.name in (JOB_FILE, LOG_FILE, PREVIOUS_LOG_FILE):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry)


def remove_job_dir(data_dir: Path, version_id: int) -> None:
    shutil.rmtree(Path(data_dir) / TRAINING_DIR / str(version_id), ignore_errors=True)


__all__ = [
    "SERVICE_ISSUE_MESSAGE",
    "Trainer",
    "TrainerConfig",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingKeys",
    "TrainingTarget",
    "WorkerTrainer",
    "remove_job_dir",
]
