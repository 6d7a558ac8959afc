"""Inference units: admission control, the autoscaler and the Prometheus series."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from labelgate import errors
from labelgate.backends.local.serving.embedded import EmbeddedRuntime
from labelgate.client import Client
from tests.serving.conftest import COLOURS, SERVING_CONFIG, Serving, png

QUEUE = 2


@pytest.fixture
def units(make_serving) -> Serving:
    return make_serving({"serving_queue_per_unit": QUEUE})


class Gate:
    """Holds every model run on the gateway's loop until `open()`."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        runtime = serving.backend.serving.runtime
        self.original = runtime.infer

        async def install() -> asyncio.Event:
            event = asyncio.Event()

            async def gated(key, inputs):
                await event.wait()
                return await self.original(key, inputs)

            runtime.infer = gated  # type: ignore[method-assign]
            return event

        self.event = serving.on_loop(install())

    def open(self) -> None:
        self.serving.gateway.loop.call_soon_threadsafe(self.event.set)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def _detect_in_thread(serving: Serving, pool: ThreadPoolExecutor, arn: str) -> Future:
    def call():
        with Client(serving.gateway.address) as client:
            return client.detect_custom_labels(project_version_arn=arn,
                                               image={"Bytes": png(COLOURS["red"])})

    return pool.submit(call)


def _in_flight(serving: Serving, arn: str) -> int:
    model = serving.backend.serving._models.get(arn)
    return 0 if model is None else model.in_flight


def test_detect_counts_latency_and_unit_gauges_after_known_traffic(units: Serving) -> None:
    arn = units.classifier(units.project("metered"))
    units.start(arn)
    assert units.metric("labelgate_inference_units_in_service", arn) == 1
    assert units.metric("labelgate_inference_units_desired", arn) == 1
    assert units.metric("labelgate_inference_unit_capacity", arn) > 0
    assert units.metric("labelgate_detect_images_total", arn) == 0
    for _ in range(5):
        units.detect(arn, png(COLOURS["red"]))
    assert units.metric("labelgate_detect_images_total", arn) == 5
    assert units.metric("labelgate_detect_duration_seconds_count", arn) == 5
    assert units.metric("labelgate_detect_throttled_total", arn) == 0
    units.until(lambda: units.metric("labelgate_inference_unit_seconds_total", arn) > 0,
                "unit seconds")
    units.stop(arn)
    # Series exist for running models only.
    assert units.metric("labelgate_inference_units_in_service", arn) is None
    assert units.metric("labelgate_detect_images_total", arn) is None


def test_requests_beyond_the_units_queues_are_refused_not_queued(units: Serving,
                                                                 pool: ThreadPoolExecutor
                                                                 ) -> None:
    arn = units.classifier(units.project("admission"))
    units.start(arn)
    gate = Gate(units)
    held = [_detect_in_thread(units, pool, arn) for _ in range(QUEUE)]
    units.until(lambda: _in_flight(units, arn) == QUEUE, "the held requests")
    with pytest.raises(errors.ProvisionedThroughputExceededException):
        units.detect(arn, png(COLOURS["red"]))
    assert units.metric("labelgate_detect_throttled_total", arn) == 1
    gate.open()
    assert [[c.name for c in f.result(30).custom_labels] for f in held] == [["red"]] * QUEUE
    assert units.metric("labelgate_detect_images_total", arn) == QUEUE
    units.stop(arn)


def test_the_autoscaler_adds_units_under_load_and_removes_them_when_idle(
        units: Serving, pool: ThreadPoolExecutor) -> None:
    arn = units.classifier(units.project("scaled"))
    units.start(arn, 1, 2)
    runtime = units.backend.serving.runtime
    assert isinstance(runtime, EmbeddedRuntime)
    key = units.backend.serving._models[arn].key
    gate = Gate(units)
    held = [_detect_in_thread(units, pool, arn) for _ in range(QUEUE)]
    units.until(lambda: units.metric("labelgate_inference_units_in_service", arn) == 2,
                "scale up")
    assert units.metric("labelgate_inference_units_desired", arn) == 2
    assert runtime.units(key) == 2
    assert units.describe(arn).min_inference_units == 1
    gate.open()
    for future in held:
        future.result(30)
    units.until(lambda: units.metric("labelgate_inference_units_in_service", arn) == 1,
                "scale down")
    assert units.metric("labelgate_inference_units_desired", arn) == 1
    units.until(lambda: runtime.units(key) == 1, "a unit retired")
    assert [c.name for c in units.detect(arn, png(COLOURS["red"])).custom_labels] == ["red"]
    units.stop(arn)


def test_a_model_without_max_units_never_scales(units: Serving,
                                                pool: ThreadPoolExecutor) -> None:
    arn = units.classifier(units.project("fixed"))
    units.start(arn, 1)
    service = units.backend.serving
    model = service._models[arn]
    # Spies: every autoscaler tick (with the model's load as the tick saw it) and every
    # scale the runtime is asked for. Both are looked up on the instance at each call.
    ticks: list[tuple[float, int]] = []
    scaled: list[tuple[str, int]] = []
    tick, scale = service.autoscale_tick, service.runtime.scale

    async def counted_tick() -> None:
        ticks.append((time.monotonic(), model.in_flight))
        await tick()

    async def spied_scale(key: str, count: int) -> None:
        scaled.append((key, count))
        await scale(key, count)

    service.autoscale_tick = counted_tick  # type: ignore[method-assign]
    service.runtime.scale = spied_scale  # type: ignore[method-assign]
    gate = Gate(units)
    held = [_detect_in_thread(units, pool, arn) for _ in range(QUEUE)]
    units.until(lambda: _in_flight(units, arn) == QUEUE, "the held requests")
    up_after = SERVING_CONFIG["autoscale_up_after_seconds"]

    def loaded_span() -> float:
        """Seconds between the first and last ticks that saw the model saturated."""
        loaded = [t for t, in_flight in ticks if in_flight == QUEUE]
        return loaded[-1] - loaded[0] if len(loaded) >= 2 else 0.0

    # Ticks saw it saturated for 3x the time after which a max > min model scales up
    # (test_the_autoscaler_adds_units_under_load... scales on the same load and timings).
    units.until(lambda: loaded_span() >= 3 * up_after, "autoscaler ticks under load")
    assert scaled == []
    assert units.metric("labelgate_inference_units_in_service", arn) == 1
    assert units.metric("labelgate_inference_units_desired", arn) == 1
    assert service.runtime.units(model.key) == 1
    gate.open()
    assert [[c.name for c in f.result(30).custom_labels] for f in held] == [["red"]] * QUEUE
    units.stop(arn)
