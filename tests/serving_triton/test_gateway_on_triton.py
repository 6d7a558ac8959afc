"""The whole serving path with `runtime = "triton"`: StartProjectVersion loads the model into
a real tritonserver the gateway starts itself, DetectCustomLabels runs through it, and every
answer equals the embedded runtime's for the same model and images (the pre/post-processing
is shared; only the engine differs)."""

from __future__ import annotations

import pytest

from labelgate import errors
from labelgate.backends.local.serving.triton import TritonRuntime
from labelgate.backends.local.serving.triton_server import find_install
from labelgate.v1 import custom_labels_pb2 as pb
from tests.serving.conftest import (  # noqa: F401  (fixtures)
    COLOURS,
    DATABASES,
    Serving,
    _postgres_migrated,
    _sqlite_template,
    database,
    make_serving,
    png,
)
from tests.serving_triton.test_triton_runtime import _install_or_skip

pytestmark = pytest.mark.slow

IMAGES = {
    **{name: png(colour) for name, colour in COLOURS.items()},
    "mixed": png((180, 90, 60), 96, 80),
    "jpeg": png((40, 180, 200), 120, 90, fmt="JPEG"),
}


def _answers(serving: Serving, arn: str) -> dict[str, list[tuple]]:
    out = {}
    for name, data in IMAGES.items():
        labels = serving.detect(arn, data, min_confidence=0).custom_labels
        out[name] = [
            (c.name, round(c.confidence, 4),
             tuple(round(v, 6) for v in (c.geometry.bounding_box.left,
                                         c.geometry.bounding_box.top,
                                         c.geometry.bounding_box.width,
                                         c.geometry.bounding_box.height)))
            for c in labels
        ]
    return out


def test_triton_and_embedded_runtimes_answer_identically(make_serving, tmp_path) -> None:  # noqa: F811
    _install_or_skip()
    assert find_install() is not None
    data_dir = tmp_path / "shared"
    embedded = make_serving(data_dir=data_dir)
    project = embedded.project("engines")
    models = {"classifier": embedded.classifier(project, "cls"),
              "detector": embedded.detector(project, "det")}
    expected = {}
    for kind, arn in models.items():
        embedded.start(arn)
        expected[kind] = _answers(embedded, arn)
        embedded.stop(arn)
    embedded.close()

    triton = make_serving({"runtime": "triton", "triton_max_batch_size": 4}, data_dir=data_dir)
    runtime = triton.backend.serving.runtime
    assert isinstance(runtime, TritonRuntime)
    for kind, arn in models.items():
        with pytest.raises(errors.ResourceNotReadyException):
            triton.detect(arn, IMAGES["red"])
        triton.start(arn, 1, 2)
        status = triton.describe(arn).inference_units_status
        assert status.runtime == "triton" and status.in_service_inference_units == 1
        key = triton.backend.serving._models[arn].key
        assert runtime.units(key) == 1
        assert _answers(triton, arn) == expected[kind], kind
        triton.stop(arn)
        assert triton.describe(arn).status == pb.PROJECT_VERSION_STATUS_STOPPED
    # Both labels and boxes were compared, not empty answers.
    assert expected["classifier"]["red"][0][0] == "red"
    assert expected["detector"]["red"][0][0] == "thing"
    assert expected["detector"]["red"][0][2] != (0.0, 0.0, 0.0, 0.0)
