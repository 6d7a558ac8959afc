"""Tiny real ONNX models (built with onnx.helper) and their cards, for the Triton tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from labelgate.backends.local.inference.card import InputSpec, ModelCard

SIZE = 8
LABELS = ("cat", "dog", "fox", "owl")
OPSET = 17


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def classifier(model_dir: Path) -> Path:
    """image [batch,3,8,8] → scores [batch,4]: softmax of a linear map of channel means."""
    model_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.normal(size=(3, 4)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "b")
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["mean", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["scores"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", len(LABELS)])],
        [w, b],
    )
    _save(graph, model_dir / "model.onnx")
    ModelCard(
        task="classification",
        labels=LABELS,
        backbone="tiny",
        input=InputSpec(name="image", height=SIZE, width=SIZE, resize="stretch"),
        outputs={"scores": {"name": "scores", "shape": ["batch", len(LABELS)]}},
    ).save(model_dir)
    return model_dir


def detector(model_dir: Path) -> Path:
    """image [1,3,8,8] → boxes [n,4] f32, scores [n] f32, labels [n] int64 (n varies)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    shape = numpy_helper.from_array(np.array([-1, 4], np.int64), "shape")
    zero = numpy_helper.from_array(np.array([0], np.int64), "zero")
    one = numpy_helper.from_array(np.array([1], np.int64), "one")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    nodes = [
        helper.make_node("Reshape", ["image", "shape"], ["flat"]),
        helper.make_node("ReduceSum", ["flat", "one"], ["sum"], keepdims=0),
        helper.make_node("Sigmoid", ["sum"], ["all_scores"]),
        helper.make_node("Greater", ["all_scores", "half"], ["keep"]),
        helper.make_node("NonZero", ["keep"], ["nz"]),
        helper.make_node("Squeeze", ["nz", "zero"], ["idx"]),
        helper.make_node("Abs", ["flat"], ["all_boxes"]),
        helper.make_node("ArgMax", ["flat"], ["all_labels"], axis=1, keepdims=0),
        helper.make_node("Gather", ["all_boxes", "idx"], ["boxes"], axis=0),
        helper.make_node("Gather", ["all_scores", "idx"], ["scores"], axis=0),
        helper.make_node("Gather", ["all_labels", "idx"], ["labels"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["detections", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["detections"]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, ["detections"]),
        ],
        [shape, zero, one, half],
    )
    _save(graph, model_dir / "model.onnx")
    ModelCard(
        task="detection",
        labels=LABELS,
        backbone="tiny",
        input=InputSpec(
            name="image",
            height=SIZE,
            width=SIZE,
            resize="letterbox_top_left",
            extra={"batch": 1},
        ),
        outputs={k: {"name": k} for k in ("boxes", "scores", "labels")},
    ).save(model_dir)
    return model_dir


def run_ort(model_dir: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The in-process ONNX Runtime reference."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(
        str(model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs), strict=True))
