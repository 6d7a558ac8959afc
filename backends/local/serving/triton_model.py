"""Triton python-backend model that runs model.onnx with ONNX Runtime (labelgate).

Copied as `<entry>/1/model.py` by triton_repository.py; it runs inside Triton's
`triton_python_backend_stub` (the Triton environment, numpy < 2), never in the gateway, so
it imports nothing from labelgate. Inputs and outputs are the graph's own names, as the
entry's config.pbtxt declares them. With a batch axis (max_batch_size > 0) the requests
Triton's dynamic batcher hands over are concatenated into one ONNX Runtime run and split
back; without one each request is a run of its own.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(params.get("intra_op_threads") or 1))
        so.inter_op_num_threads = 1
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [t["name"] for t in config["input"]]
        self.output_names = [t["name"] for t in config["output"]]

    def _inputs(self, request):
        return {
            name: pb_utils.get_input_tensor_by_name(request, name).as_numpy()
            for name in self.input_names
        }

    def _response(self, outputs):
        return pb_utils.InferenceResponse(
            output_tensors=[
                pb_utils.Tensor(name, np.ascontiguousarray(value))
                for name, value in zip(self.output_names, outputs)  # noqa: B905 (any Python 3)
            ]
        )

    def _error(self, exc):
        return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"onnxruntime: {exc}"))

    def execute(self, requests):
        if self.batched and len(requests) > 1:
            try:
                feeds = [self._inputs(r) for r in requests]
                sizes = [len(f[self.input_names[0]]) for f in feeds]
                feed = {n: np.concatenate([f[n] for f in feeds]) for n in self.input_names}
                outputs = self.session.run(self.output_names, feed)
                bounds = np.cumsum(sizes)[:-1]
                parts = [np.split(o, bounds) for o in outputs]
                return [self._response([p[i] for p in parts]) for i in range(len(requests))]
            except Exception:  # fall back to one run per request, each with its own error
                pass
        responses = []
        for request in requests:
            try:
                responses.append(
                    self._response(self.session.run(self.output_names, self._inputs(request)))
                )
            except Exception as exc:
                responses.append(self._error(exc))
        return responses

    def finalize(self):
        self.session = None
