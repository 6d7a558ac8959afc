"""A tiny stand-in for the AutoML learner, for the job machinery's tests (no torch).

Registered as the learner plugin `fake` by the test suite only (tests/plugins, put on the
path by tests/conftest.py); a backend uses it with the setting `training_learner = "fake"`.

It really learns, a little: each label's mean colour (nearest centroid on the image's
mean RGB), exported as a real ONNX graph (input: mean RGB in 0..1; MatMul + Add, then
Softmax or Sigmoid), and it predicts the test set by running that graph with ONNX Runtime.
Detection predicts one whole-image box of the nearest label. Images of a distinct colour
per label are learned perfectly.

`FAKE_LEARNER_MODE` makes it misbehave: `crash` (raises), `exit` (exits 3 without a
result), `kill` (SIGKILLs itself), `hang` (reports progress until killed). `FAKE_LEARNER_EPOCHS`
sets how many progress reports it sends (default 3), `FAKE_LEARNER_EPOCH_SECONDS` how long
each epoch takes (default 0), `FAKE_LEARNER_PID_FILE` names a file it writes its pid to.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from labelgate.backends.local.inference.records import (
    DETECTION,
    MULTILABEL,
    Detection,
    Example,
    ImagePrediction,
)
from labelgate.backends.local.training.contract import (
    Progress,
    ProgressSink,
    TrainedModel,
    TrainingRequest,
)

MODE_ENV, EPOCHS_ENV, PID_FILE_ENV = "FAKE_LEARNER_MODE", "FAKE_LEARNER_EPOCHS", \
    "FAKE_LEARNER_PID_FILE"
EPOCH_SECONDS_ENV = "FAKE_LEARNER_EPOCH_SECONDS"


def _mean_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((1, 1)), dtype=np.float32).reshape(3) / 255


def _export(weights: np.ndarray, bias: np.ndarray, activation: str, path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["rgb", "W"], ["logits0"]),
         helper.make_node("Add", ["logits0", "B"], ["logits"]),
         (helper.make_node("Softmax", ["logits"], ["scores"], axis=-1)
          if activation == "softmax" else helper.make_node("Sigmoid", ["logits"], ["scores"]))],
        "fake_mean_colour",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", weights.shape[1]])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _misbehave(mode: str, progress: ProgressSink, request: TrainingRequest) -> None:
    if mode == "crash":
        raise RuntimeError("the fake learner was told to crash")
    if mode == "oom":
        raise MemoryError
    if mode == "bad-image":
        # As Pillow says it: the server's own copy of the image, by its full path.
        raise OSError(f"cannot identify image file {str(request.train[0].image_path)!r}")
    if mode == "exit":
        os._exit(3)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        epoch = 0
        while True:
            epoch += 1
            progress(Progress(stage="training", epoch=epoch, total_epochs=1000, loss=1.0))
            time.sleep(0.1)


def train(request: TrainingRequest, progress: ProgressSink) -> TrainedModel:
    started = time.monotonic()
    pid_file = os.environ.get(PID_FILE_ENV)
    if pid_file:
        Path(pid_file).write_text(str(os.getpid()))
    _misbehave(os.environ.get(MODE_ENV, ""), progress, request)

    labels = list(request.labels)
    features = {e.source_ref: _mean_rgb(e.image_path) for e in (*request.train, *request.test)}
    centroids = np.stack([
        np.mean([features[e.source_ref] for e in request.train
                 if label in e.labels or any(b.label == label for b in e.boxes)], axis=0)
        for label in labels
    ]).astype(np.float32)
    epochs = int(os.environ.get(EPOCHS_ENV, "3"))
    epoch_seconds = float(os.environ.get(EPOCH_SECONDS_ENV, "0"))
    for epoch in range(1, epochs + 1):
        time.sleep(epoch_seconds)
        progress(Progress(stage="training", epoch=epoch, total_epochs=epochs,
                          loss=1.0 / epoch, metric_name="accuracy", metric_value=epoch / epochs,
                          eta_seconds=float(epochs - epoch), message=f"epoch {epoch}"))

    # -|x - c|^2 = 2 x.c - |c|^2 - |x|^2; the last term is the same for every label.
    temperature = 20.0
    weights = (2 * temperature * centroids.T).astype(np.float32)
    bias = (-temperature * (centroids ** 2).sum(axis=1)).astype(np.float32)
    activation = "sigmoid" if request.task == MULTILABEL else "softmax"
    if request.task == MULTILABEL:
        bias = bias + temperature * 0.05  # nearby colours score above 0.5
    request.workdir.mkdir(parents=True, exist_ok=True)
    onnx_path = request.workdir / "fake.onnx"
    _export(weights, bias, activation, onnx_path)

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    predictions = []
    for example in request.test:
        scores = session.run(None, {"rgb": features[example.source_ref][None, :]})[0][0]
        predictions.append(_prediction(request, example, labels, scores))
    card = {
        "format": "labelgate-model", "format_version": 1, "task": request.task,
        "labels": labels, "backbone": "fake_mean_colour", "onnx_file": onnx_path.name,
        "input": {"name": "rgb", "layout": "NC", "dtype": "float32", "color": "RGB",
                  "height": 1, "width": 1, "resize": "stretch", "value_range": [0, 1]},
        "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]},
        "outputs": {"scores": "scores"},
    }
    return TrainedModel(onnx_path=onnx_path, card=card, test_predictions=tuple(predictions),
                        choices={"learner": "fake", "epochs": epochs}, epochs_run=epochs,
                        training_seconds=time.monotonic() - started)


def _prediction(request: TrainingRequest, example: Example, labels: list[str],
                scores: np.ndarray) -> ImagePrediction:
    if request.task != DETECTION:
        return ImagePrediction(example.source_ref,
                               scores={label: float(s) for label, s in zip(labels, scores,
                                                                           strict=True)})
    best = int(np.argmax(scores))
    box = Detection(labels[best], float(scores[best]), 0.0, 0.0, float(example.width),
                    float(example.height))
    if example.boxes:  # a box where the truth is, so detection metrics have hits
        truth = example.boxes[0]
        box = Detection(labels[best], float(scores[best]), truth.left, truth.top,
                        truth.width, truth.height)
    return ImagePrediction(example.source_ref, detections=(box,))
