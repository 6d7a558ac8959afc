# syntax=docker/dockerfile:1
# labelgate: the gateway with the local backend, able to train (CPU PyTorch) and to serve
# (embedded ONNX Runtime). Build:  docker build -t labelgate .
# A CUDA host: docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu130 .
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: every dependency into one virtualenv -----------------------------------------------
FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/labelgate
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY clients ./clients
COPY server ./server
COPY backends ./backends
# torch/torchvision first, from PyTorch's own index only (the CPU wheels: a few hundred MB,
# not the CUDA build's gigabytes); then everything else from PyPI alone, so no package can
# come from the index it was not meant to. Two distributions: the client (CLI, stubs) and the
# server with its parts: `server` the local backend, `train` the trainer, `triton` and `aws`
# the other runtimes and backend, `postgres` the driver for a shared database.
RUN grep -oE '"(torch|torchvision)==[^"]+"' pyproject.toml | tr -d '"' \
    | xargs /opt/labelgate/bin/pip install --index-url "${TORCH_INDEX}" \
 && /opt/labelgate/bin/pip install ./clients/python '.[server,train,triton,aws,postgres]' \
 && /opt/labelgate/bin/python -c "import torch, torchvision, onnxruntime, labelgate.server"

# --- run: the virtualenv, an unprivileged user, a data volume ----------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/labelgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LABELGATE_HOST=0.0.0.0 LABELGATE_PORT=50051 \
    LABELGATE_AWS_HOST=0.0.0.0 LABELGATE_AWS_PORT=8080 \
    LABELGATE_METRICS_HOST=0.0.0.0 LABELGATE_METRICS_PORT=9464 \
    LABELGATE_DATA_DIR=/data \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 labelgate \
 && useradd --system --uid 10001 --gid labelgate --home-dir /data --shell /usr/sbin/nologin labelgate \
 && mkdir -p /data && chown labelgate:labelgate /data
COPY --from=build /opt/labelgate /opt/labelgate
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# gRPC API, AWS-compatible JSON API (boto3), Prometheus /metrics.
EXPOSE 50051 8080 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "labelgate.server.healthcheck"]
ENTRYPOINT ["labelgate"]
CMD ["serve"]
