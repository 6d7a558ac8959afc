# labelgate gateway with the local backend on its embedded defaults.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LABELGATE_METRICS_HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proto ./proto
COPY clients ./clients
COPY server ./server
COPY backends ./backends
RUN pip install '.[postgres]'

# gRPC API and Prometheus metrics.
EXPOSE 50051 9464
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
  CMD python -c "import grpc,sys; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; \
c=g.HealthStub(grpc.insecure_channel('127.0.0.1:50051')); \
sys.exit(0 if c.Check(h.HealthCheckRequest(), timeout=3).status == h.HealthCheckResponse.SERVING else 1)"
ENTRYPOINT ["labelgate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "50051", "--data-dir", "/data", "--metrics-port", "9464"]
