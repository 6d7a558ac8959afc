"""StartProjectVersion, StopProjectVersion and DetectCustomLabels (serving.md §1, §2).

The store holds the desired state: a version is STARTING/RUNNING because someone started
it, so a restarted gateway loads every such version again (`resume`). What runs it (the
runtime's units) lives in this process only.

Start commits STARTING (with Min/MaxInferenceUnits) and returns; a task copies the bundle
out of the blob store, loads it into the runtime with MinInferenceUnits units, calibrates
one unit's capacity (images/s) and commits RUNNING, or FAILED with the reason. Stop commits
STOPPING and returns; a task unloads the model and commits STOPPED.

Detect: admission control bounds the requests a model holds to `queue_per_unit` per unit
in service; one more is refused with ProvisionedThroughputExceededException rather than
queued without end (serving.md §1.1). The autoscaler (when MaxInferenceUnits > Min) adds a
unit after sustained high utilization or throttling and removes one after sustained idling.
Pre/post-processing is the shared inference/pipeline.py, so every runtime gives the same
labels for the same image.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelgate.backends.base import RequestContext, settings_part
from labelgate.backends.local.blobs.bundles import ModelBundle
from labelgate.backends.local.blobs.stores import BlobStore
from labelgate.backends.local.core.caller_text import scrub
from labelgate.backends.local.inference import pipeline
from labelgate.backends.local.inference.card import ModelCard
from labelgate.backends.local.inference.imaging import open_rgb
from labelgate.backends.local.inference.records import ImagePrediction
from labelgate.backends.local.serving.runtime import Deployment, Runtime, RuntimeFailure
from labelgate.backends.local.serving.serving_metrics import ServingMetrics
from labelgate.backends.local.serving.triton import TritonKeys, TritonRuntime
from labelgate.backends.local.serving.usage import HEARTBEAT_S, UsageLedger
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.store.lookups import find_project
from labelgate.backends.local.store.tables import Project, ProjectVersion
from labelgate.errors import (
    ImageTooLargeException,
    InternalServerError,
    InvalidImageFormatException,
    InvalidParameterException,
    LabelgateError,
    LimitExceededException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ResourceNotReadyException,
)
from labelgate.v1 import custom_labels_pb2 as pb

log = logging.getLogger(__name__)

# Spec 03 §7.2 (detection quotas).
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # raw bytes: "smaller than 4.0 MB"
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 64, 4096, 20.0
#: Labels a model scores without an assumed threshold are kept from this confidence (0..1).
DEFAULT_THRESHOLD = 0.5

#: Statuses StartProjectVersion starts from (serving.md §1.6; FAILED: a failed start, retried).
STARTABLE = frozenset({"TRAINING_COMPLETED", "STOPPED", "COPYING_COMPLETED", "FAILED"})
#: Statuses with work in progress: starting then is ResourceInUseException.
BUSY = frozenset({"TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING", "DELETING",
                  "COPYING_IN_PROGRESS"})
STOPPABLE = frozenset({"STARTING", "RUNNING"})

MSG_STARTING = "The model is starting."
MSG_RUNNING = "The model is running."
MSG_STOPPING = "The model is stopping."
MSG_STOPPED = "The model is stopped."
MSG_FAILED = "The model could not start: {}"

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


class ServingKeys(TritonKeys):
    """The serving keys of `[backends.local]`, the triton runtime's included (part of the
    local backend's LocalSettings); ServingConfig is their view."""

    runtime: Literal["embedded", "triton"] = "embedded"
    serving_threads_per_unit: int = Field(1, ge=1)
    serving_queue_per_unit: int = Field(4, ge=1)
    serving_max_inference_units: int = Field(8, ge=1)
    serving_calibration_seconds: float = Field(0.25, ge=0)
    autoscale_interval_seconds: float = Field(5.0, ge=0.01)
    autoscale_up_after_seconds: float = Field(30.0, ge=0)
    autoscale_down_after_seconds: float = Field(300.0, ge=0)


@dataclass(frozen=True)
class ServingConfig:
    """The serving settings the service runs with: a view of the typed `[backends.local]`
    settings (keys in parentheses)."""

    runtime: str = "embedded"  # (runtime) embedded | triton
    threads_per_unit: int = 1  # (serving_threads_per_unit) ONNX Runtime threads per unit
    queue_per_unit: int = 4  # (serving_queue_per_unit) requests a unit holds before throttling
    max_units: int = 8  # (serving_max_inference_units) LimitExceededException above it
    calibration_s: float = 0.25  # (serving_calibration_seconds) 0: no calibration
    autoscale_interval_s: float = 5.0  # (autoscale_interval_seconds)
    scale_up_after_s: float = 30.0  # (autoscale_up_after_seconds) sustained load
    scale_down_after_s: float = 300.0  # (autoscale_down_after_seconds) sustained idling
    high_utilization: float = 0.75
    low_utilization: float = 0.25

    @classmethod
    def from_settings(cls, settings: ServingKeys) -> ServingConfig:
        return cls(
            runtime=settings.runtime,
            threads_per_unit=settings.serving_threads_per_unit,
            queue_per_unit=settings.serving_queue_per_unit,
            max_units=settings.serving_max_inference_units,
            calibration_s=settings.serving_calibration_seconds,
            autoscale_interval_s=settings.autoscale_interval_seconds,
            scale_up_after_s=settings.autoscale_up_after_seconds,
            scale_down_after_s=settings.autoscale_down_after_seconds,
        )

    @classmethod
    def from_config(cls, config: ServingKeys | Mapping[str, Any]) -> ServingConfig:
        """From typed settings, or a mapping (read for the ServingKeys keys only)."""
        config = settings_part(ServingKeys, config)
        return cls.from_settings(config)


def make_runtime(config: ServingConfig, settings: TritonKeys, data_dir: Path) -> Runtime:
    """The configured runtime (`settings`: the backend's, whose `triton_*` keys the triton
    runtime reads; tritonclient is imported only when that runtime is used)."""
    if config.runtime == "triton":
        return TritonRuntime.from_config(settings, data_dir=data_dir)
    from labelgate.backends.local.serving.embedded import EmbeddedRuntime

    return EmbeddedRuntime()


@dataclass
class _Model:
    """One started version in this process."""

    version_id: int
    arn: str
    key: str
    project_arn: str
    project_name: str
    version_name: str
    label: str  # "project/version", the metrics label
    min_units: int
    max_units: int
    card: ModelCard | None = None
    units: int = 0  # in service
    desired: int = 0
    capacity: float = 0.0  # images/s of one unit
    running: bool = False
    in_flight: int = 0
    busy_s: float = 0.0  # model time since the last autoscaler tick
    throttled: int = 0  # refusals since the last tick
    high_since: float | None = None
    low_since: float | None = None
    usage_row: int | None = None  # the open inference_unit_usage row while RUNNING
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ServingService:
    def __init__(self, db: Database, blobs: BlobStore, runtime: Runtime, *, data_dir: Path,
                 config: ServingConfig | None = None, metrics: ServingMetrics | None = None
                 ) -> None:
        self._db = db
        self._blobs = blobs
        self.runtime = runtime
        self._dir = Path(data_dir) / "serving"
        self.config = config or ServingConfig()
        self.metrics = metrics or ServingMetrics()
        self.usage = UsageLedger(db)
        self._models: dict[str, _Model] = {}  # by version ARN
        self._stops: dict[str, asyncio.Task[None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._last_tick = self._accounted_at = self._last_heartbeat = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------

    async def resume(self) -> None:
        """Start again what was started before the gateway stopped; finish interrupted stops."""

        def work(session: Session) -> list[tuple[ProjectVersion, Project]]:
            rows = session.execute(
                select(ProjectVersion, Project)
                .join(Project, Project.id == ProjectVersion.project_id)
                .where(ProjectVersion.status.in_(("STARTING", "RUNNING", "STOPPING")))
            ).all()
            out = []
            for version, project in rows:
                if version.status == "STOPPING":
                    version.status, version.status_message = "STOPPED", MSG_STOPPED
                    continue
                version.status, version.status_message = "STARTING", MSG_STARTING
                out.append((version, project))
            return out

        # Usage rows a previous gateway left open end where it was last seen alive.
        await self.usage.close_dangling()
        for version, project in await self._db.run(work):
            self._launch(version, project)
        self._ticker = asyncio.get_running_loop().create_task(self._autoscale_loop())

    async def close(self) -> None:
        """Stop serving in this process; the store keeps RUNNING so `resume` restarts it."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        tasks = [m.task for m in self._models.values() if m.task is not None]
        tasks += list(self._stops.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._account(time.monotonic())
        for model in self._models.values():
            self.metrics.stopped(model.label)
            await self._close_usage(model, "served until the gateway stopped")
        self._models.clear()
        await self.runtime.close()

    async def wait_idle(self) -> None:
        """Wait until no start or stop is in progress (tests)."""
        while True:
            tasks = [m.task for m in self._models.values() if m.task is not None]
            tasks += list(self._stops.values())
            tasks = [t for t in tasks if not t.done()]
            if not tasks:
                return
            await asyncio.wait(tasks)

    async def start_project_version(
        self, request: pb.StartProjectVersionRequest, context: RequestContext
    ) -> pb.StartProjectVersionResponse:
        arn = request.project_version_arn
        if not request.HasField("min_inference_units") or request.min_inference_units < 1:
            raise InvalidParameterException("MinInferenceUnits must be an integer >= 1")
        low = request.min_inference_units
        high = request.max_inference_units if request.HasField("max_inference_units") else None
        if high is not None and high < 1:
            raise InvalidParameterException("MaxInferenceUnits must be an integer >= 1")
        if high is not None and high < low:
            raise InvalidParameterException(
                f"MaxInferenceUnits ({high}) must not be less than MinInferenceUnits ({low})"
            )
        if max(low, high or 0) > self.config.max_units:
            raise LimitExceededException(
                f"A model can use at most {self.config.max_units} inference units"
            )
        if arn in self._stops and not self._stops[arn].done():
            raise ResourceInUseException(f"The model {arn} is STOPPING; wait until it stops")

        def work(session: Session) -> tuple[ProjectVersion, Project]:
            version = _find_version(session, arn, lock=True)
            if version.status in BUSY:
                raise ResourceInUseException(
                    f"The model {arn} cannot be started while it is {version.status}"
                )
            if version.status not in STARTABLE:
                raise InvalidParameterException(
                    f"The model {arn} is {version.status}; only a trained model can be started"
                )
            if not version.model_bundle:
                raise InvalidParameterException(f"The model {arn} has no trained model")
            version.status, version.status_message = "STARTING", MSG_STARTING
            version.min_inference_units = low
            version.max_inference_units = high
            return version, version.project

        version, project = await self._db.run(work)
        self._launch(version, project)
        return pb.StartProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_STARTING)

    async def stop_project_version(
        self, request: pb.StopProjectVersionRequest, context: RequestContext
    ) -> pb.StopProjectVersionResponse:
        arn = request.project_version_arn

        def work(session: Session) -> None:
            version = _find_version(session, arn, lock=True)
            if version.status not in STOPPABLE:
                raise ResourceInUseException(
                    f"The model {arn} is not running (status {version.status})"
                )
            version.status, version.status_message = "STOPPING", MSG_STOPPING

        await self._db.run(work)
        model = self._models.get(arn)
        if model is not None:
            model.running = False  # refuse new detects at once
        self._stops[arn] = asyncio.get_running_loop().create_task(self._stop(arn))
        return pb.StopProjectVersionResponse(status=pb.PROJECT_VERSION_STATUS_STOPPING)

    def _launch(self, version: ProjectVersion, project: Project) -> None:
        model = _Model(
            version_id=version.id, arn=version.arn, key=f"pv{version.id}",
            project_arn=project.arn, project_name=project.name, version_name=version.name,
            label=f"{project.name}/{version.name}",
            min_units=version.min_inference_units or 1,
            max_units=max(version.max_inference_units or 0, version.min_inference_units or 1),
        )
        self._models[version.arn] = model
        model.task = asyncio.get_running_loop().create_task(
            self._start(model, dict(version.model_bundle or {})), name=f"start-{model.key}"
        )

    async def _start(self, model: _Model, bundle: dict[str, Any]) -> None:
        try:
            model_dir = await asyncio.to_thread(self._fetch_bundle, model, bundle)
            card = ModelCard.load(model_dir)
            await self.runtime.load(Deployment(
                key=model.key, model_dir=model_dir, units=model.min_units,
                threads_per_unit=self.config.threads_per_unit,
            ))
            model.card = card
            capacity = await self._calibrate(model, card)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("model %s did not start: %s", model.arn, exc,
                        exc_info=not isinstance(exc, RuntimeFailure))
            # The caller's message: no server paths (the bundle's folder, the Triton venv).
            # Our own errors (an S3 outage, a missing bundle) say what happened; others only
            # their kind.
            told = (RuntimeFailure, LabelgateError, ValueError, OSError)
            message = scrub(str(exc)) if isinstance(exc, told) \
                else f"internal error ({type(exc).__name__})"
            self._models.pop(model.arn, None)
            with contextlib.suppress(Exception):
                await self.runtime.unload(model.key)
            await self._set_status(model.arn, ("STARTING",), "FAILED", MSG_FAILED.format(message))
            return
        model.units = model.desired = model.min_units
        model.capacity = capacity
        if not await self._set_status(model.arn, ("STARTING",), "RUNNING", MSG_RUNNING):
            return  # stopped (or deleted) meanwhile: the stop task unloads it
        self._account(time.monotonic())
        self.metrics.started(model.label, model.units, capacity)
        model.running = True
        await self._open_usage(model)

    def _fetch_bundle(self, model: _Model, bundle: dict[str, Any]) -> Path:
        """model.onnx + model.json out of the blob store into data_dir/serving/<key>/."""
        try:
            location = ModelBundle.from_json(bundle)
        except (KeyError, TypeError, ValueError):
            raise ValueError("the model's bundle record is unreadable") from None
        target = self._dir / model.key
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        card_bytes = self._blobs.read(location.bucket, location.key("model.json"))
        (target / "model.json").write_bytes(card_bytes)
        card = ModelCard.load(target)
        with self._blobs.open(location.bucket, location.key(card.onnx_file)) as source, \
                (target / card.onnx_file).open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        return target

    async def _calibrate(self, model: _Model, card: ModelCard) -> float:
        """Images/s one unit sustains: sequential runs of the graph on a neutral image."""
        grey = Image.new("RGB", (max(card.input.width, 64), max(card.input.height, 64)),
                         (128, 128, 128))
        inputs = await asyncio.to_thread(pipeline.prepare, card, grey)
        await self.runtime.infer(model.key, inputs)  # warm-up, not counted
        if self.config.calibration_s <= 0:
            return 0.0
        runs, started = 0, time.perf_counter()
        while True:
            await self.runtime.infer(model.key, inputs)
            runs += 1
            elapsed = time.perf_counter() - started
            if runs >= 3 and elapsed >= self.config.calibration_s:
                return runs / elapsed

    async def _stop(self, arn: str) -> None:
        model = self._models.pop(arn, None)
        try:
            if model is not None:
                model.running = False
                if model.task is not None and not model.task.done():
                    model.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await model.task
                self._account(time.monotonic(), [model])
                await self._close_usage(model, "stopped")
                await self.runtime.unload(model.key)
                self.metrics.stopped(model.label)
                shutil.rmtree(self._dir / model.key, ignore_errors=True)
            await self._set_status(arn, ("STOPPING",), "STOPPED", MSG_STOPPED)
        finally:
            self._stops.pop(arn, None)

    async def _set_status(self, arn: str, expected: tuple[str, ...], status: str,
                          message: str) -> bool:
        def work(session: Session) -> bool:
            version = session.scalar(
                select(ProjectVersion).where(ProjectVersion.arn == arn).with_for_update()
            )
            if version is None or version.status not in expected:
                return False
            version.status, version.status_message = status, message
            return True

        return await self._db.run(work)

    # -- DetectCustomLabels ------------------------------------------------------------------

    async def detect_custom_labels(
        self, request: pb.DetectCustomLabelsRequest, context: RequestContext
    ) -> pb.DetectCustomLabelsResponse:
        arn = request.project_version_arn
        if request.HasField("max_results") and request.max_results < 0:
            raise InvalidParameterException("MaxResults must be >= 0")
        if request.HasField("min_confidence") and not 0 <= request.min_confidence <= 100:
            raise InvalidParameterException("MinConfidence must be between 0 and 100")
        model = self._models.get(arn)
        if model is None or not model.running:
            await self._not_ready(arn)
        assert model is not None and model.card is not None
        data = await self._image_bytes(request.image)
        if model.in_flight >= model.units * self.config.queue_per_unit:
            model.throttled += 1
            self.metrics.throttled.labels(model.label).inc()
            raise ProvisionedThroughputExceededException(
                f"The model {arn} is at the capacity of its {model.units} inference unit(s); "
                "retry later or start it with more"
            )
        started = time.perf_counter()
        model.in_flight += 1
        try:
            inputs, size = await asyncio.to_thread(_decode_and_prepare, model.card, data)
            ran = time.perf_counter()
            try:
                outputs = await self.runtime.infer(model.key, inputs)
            except RuntimeFailure as exc:
                raise InternalServerError(f"The model could not analyse the image: {exc}") \
                    from None
            finally:
                model.busy_s += time.perf_counter() - ran
            prediction = pipeline.interpret(model.card, outputs, size)
        finally:
            model.in_flight -= 1
        response = pb.DetectCustomLabelsResponse(
            custom_labels=_labels(model.card, prediction, size, request)
        )
        if model.running:  # a stop may have removed its series meanwhile
            self.metrics.detects.labels(model.label).inc()
            self.metrics.latency.labels(model.label).observe(time.perf_counter() - started)
        return response

    async def _not_ready(self, arn: str) -> None:
        def work(session: Session) -> str:
            return _find_version(session, arn).status

        status = await self._db.run(work)
        raise ResourceNotReadyException(
            f"The model {arn} is not running (status {status}); start it with "
            "StartProjectVersion"
        )

    async def _image_bytes(self, image: pb.Image) -> bytes:
        has_bytes, has_s3 = image.HasField("bytes"), image.HasField("s3_object")
        if has_bytes == has_s3:
            raise InvalidParameterException("Image needs exactly one of Bytes or S3Object")
        if has_bytes:
            data = image.bytes
            if len(data) >= MAX_IMAGE_BYTES:
                raise ImageTooLargeException(
                    f"Image bytes must be smaller than {MAX_IMAGE_BYTES} bytes "
                    f"(got {len(data)}); larger images can be sent as an S3Object"
                )
            return data
        bucket, name = image.s3_object.bucket, image.s3_object.name
        if not bucket or not name:
            raise InvalidParameterException("S3Object needs Bucket and Name")

        def read() -> bytes:
            size = self._blobs.size(bucket, name)  # InvalidS3ObjectException when missing
            if size > MAX_S3_IMAGE_BYTES:
                raise ImageTooLargeException(
                    f"s3://{bucket}/{name} is {size} bytes; the limit is {MAX_S3_IMAGE_BYTES}"
                )
            return self._blobs.read(bucket, name)

        return await asyncio.to_thread(read)

    # -- inference units ------------------------------------------------------------------

    def _account(self, now: float, models: list[_Model] | None = None) -> None:
        """Add units x elapsed seconds of every running model to the usage counter."""
        elapsed = now - self._accounted_at
        if models is None:
            self._accounted_at = now
            models = list(self._models.values())
        for model in models:
            if model.running and model.units and elapsed > 0:
                self.metrics.unit_seconds.labels(model.label).inc(model.units * elapsed)

    async def _autoscale_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.autoscale_interval_s)
            try:
                await self.autoscale_tick()
            except Exception:
                log.exception("autoscaler tick failed")

    async def autoscale_tick(self) -> None:
        now = time.monotonic()
        interval = max(now - self._last_tick, 1e-6)
        self._last_tick = now
        self._account(now)
        if now - self._last_heartbeat >= HEARTBEAT_S:
            self._last_heartbeat = now
            await self.usage.heartbeat(
                m.usage_row for m in self._models.values() if m.usage_row is not None
            )
        for model in list(self._models.values()):
            busy, throttled = model.busy_s, model.throttled
            model.busy_s, model.throttled = 0.0, 0
            if not model.running or model.max_units <= model.min_units:
                continue
            utilization = busy / (interval * max(model.units, 1))
            # Requests still held count as load too: a slow model may finish none in a tick.
            high = (throttled > 0 or utilization >= self.config.high_utilization
                    or model.in_flight >= model.units)
            low = utilization <= self.config.low_utilization and model.in_flight == 0
            model.high_since = (model.high_since or now) if high else None
            model.low_since = (model.low_since or now) if low else None
            target = model.units
            if high and model.units < model.max_units \
                    and now - model.high_since >= self.config.scale_up_after_s:
                target = model.units + 1
            elif low and model.units > model.min_units \
                    and now - model.low_since >= self.config.scale_down_after_s:
                target = model.units - 1
            if target != model.units:
                await self._scale(model, target)

    async def _scale(self, model: _Model, units: int) -> None:
        model.desired = units
        self.metrics.desired.labels(model.label).set(units)
        log.info("model %s: scaling from %d to %d inference units", model.arn, model.units,
                 units)
        try:
            await self.runtime.scale(model.key, units)
        except RuntimeFailure as exc:
            log.warning("model %s: could not scale to %d units: %s", model.arn, units, exc)
            model.desired = model.units
            self.metrics.desired.labels(model.label).set(model.units)
            return
        model.units = units
        model.high_since = model.low_since = None
        if model.running:
            self.metrics.in_service.labels(model.label).set(units)
            await self._close_usage(model, f"scaled to {units} inference unit(s)")
            await self._open_usage(model)

    # -- usage (inference_unit_usage rows; serving/usage.py) ---------------------------------

    async def _open_usage(self, model: _Model) -> None:
        model.usage_row = await self.usage.open(
            project_version_arn=model.arn, project_arn=model.project_arn,
            project_name=model.project_name, version_name=model.version_name,
            units=model.units,
        )

    async def _close_usage(self, model: _Model, reason: str) -> None:
        row, model.usage_row = model.usage_row, None
        if row is not None:
            await self.usage.close(row, reason=reason)

    async def get_inference_usage(self, request: pb.GetInferenceUsageRequest,
                              context: RequestContext
                              ) -> AsyncIterator[pb.GetInferenceUsageResponse]:
        """The GetInferenceUsage stream: one message per model that ran in the range."""
        end = _timestamp(request, "end_time") or dt.datetime.now(dt.UTC)
        start = _timestamp(request, "start_time") or end - dt.timedelta(days=30)
        if start >= end:
            raise InvalidParameterException("StartTime must be before EndTime")
        project_arn = request.project_arn if request.HasField("project_arn") else None
        if project_arn:
            await self._db.run(lambda session: find_project(session, project_arn))
        for usage in await self.usage.report(start=start, end=end, project_arn=project_arn):
            response = pb.GetInferenceUsageResponse(
                project_version_arn=usage.project_version_arn,
                project_name=usage.project_name, version_name=usage.version_name,
                hours_running=usage.hours_running,
                inference_unit_hours=usage.inference_unit_hours, running=usage.running_now,
            )
            if request.hourly:
                for hour in sorted(usage.hours.values(), key=lambda h: h.hour_start):
                    item = response.hours.add(hours_running=hour.running_seconds / 3600.0,
                                              inference_unit_hours=hour.unit_seconds / 3600.0)
                    item.hour_start.FromDatetime(hour.hour_start)
            yield response

    def inference_units_status(self, arn: str) -> pb.InferenceUnitsStatus | None:
        """The DescribeProjectVersions extension of a model running here."""
        state = self.in_service(arn)
        if state is None:
            return None
        units, desired, capacity = state
        return pb.InferenceUnitsStatus(
            in_service_inference_units=units, desired_inference_units=desired,
            inference_unit_capacity=capacity, runtime=self.runtime.name,
        )

    def in_service(self, arn: str) -> tuple[int, int, float] | None:
        """(units in service, desired units, capacity per unit) of a running model."""
        model = self._models.get(arn)
        if model is None or not model.running:
            return None
        return model.units, model.desired, model.capacity


def _timestamp(request: pb.GetInferenceUsageRequest, name: str) -> dt.datetime | None:
    if not request.HasField(name):
        return None
    return getattr(request, name).ToDatetime(tzinfo=dt.UTC)


def _find_version(session: Session, arn: str, *, lock: bool = False) -> ProjectVersion:
    stmt = select(ProjectVersion).where(ProjectVersion.arn == arn)
    if lock:
        stmt = stmt.with_for_update()
    version = session.scalar(stmt)
    if version is None:
        raise ResourceNotFoundException(f"The model {arn} does not exist")
    return version


def _decode_and_prepare(card: ModelCard, data: bytes
                        ) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """Check the image (PNG/JPEG, dimensions per serving.md §7.2) and make the model's input."""
    if not (data.startswith(_PNG) or data.startswith(_JPEG)):
        raise InvalidImageFormatException("The image must be a PNG or JPEG file")
    try:
        rgb = open_rgb(data)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidImageFormatException("The image could not be decoded") from None
    width, height = rgb.size
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise InvalidParameterException(
            f"The image is {width}x{height} px; each side must be {MIN_SIDE} to {MAX_SIDE} px"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise InvalidParameterException(
            f"The image's aspect ratio is above {MAX_ASPECT:g}:1"
        )
    return pipeline.prepare(card, rgb), (width, height)


def _labels(card: ModelCard, prediction: ImagePrediction, size: tuple[int, int],
            request: pb.DetectCustomLabelsRequest) -> list[pb.CustomLabel]:
    """Filter (MinConfidence, or each label's assumed threshold), order, cut (MaxResults)."""
    floor = request.min_confidence / 100.0 if request.HasField("min_confidence") else None

    def kept(label: str, confidence: float) -> bool:
        if floor is not None:
            return floor <= 0 or confidence >= floor
        return confidence >= card.thresholds.get(label, DEFAULT_THRESHOLD)

    out: list[pb.CustomLabel] = []
    if card.task == "detection":
        width, height = size
        for d in prediction.detections:
            if not kept(d.label, d.confidence):
                continue
            label = pb.CustomLabel(name=d.label, confidence=d.confidence * 100.0)
            box = label.geometry.bounding_box
            box.left, box.top = d.left / width, d.top / height
            box.width, box.height = d.width / width, d.height / height
            out.append(label)
    else:
        for name, score in prediction.scores.items():
            if kept(name, score):
                out.append(pb.CustomLabel(name=name, confidence=score * 100.0))
    out.sort(key=lambda c: -c.confidence)
    if request.HasField("max_results"):
        out = out[: request.max_results]
    return out


__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_S3_IMAGE_BYTES",
    "ServingConfig",
    "ServingKeys",
    "ServingService",
    "make_runtime",
]
