# labelgate — developer entry points. Everything installs from this repository's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 50051
DATA_DIR ?= ./.labelgate
METRICS_PORT ?= 9464
# The AWS-compatible front (boto3, `aws rekognition --endpoint-url`); 0 turns it off.
AWS_PORT ?= 8080
BUF := npx --yes @bufbuild/buf@1.75.0

# The tritonserver binary of the PyPI wheel nvidia-pytriton (python backend only) runs the
# Triton tests and the gateway's own Triton server (runtime "triton" without a URL). The wheel
# pins numpy < 2 while the project uses numpy 2, so it gets its own environment. Only the
# binary and what the python-backend model imports are needed (onnxruntime, numpy), not
# pytriton's Python dependencies: everything is pinned and installed with --no-deps.
TRITON_VENV ?= .venv-triton
TRITON_PKGS := nvidia-pytriton==0.7.0 onnxruntime==1.32.0 numpy==1.26.4 \
	flatbuffers==25.12.19 packaging==26.4 protobuf==6.33.6

.PHONY: venv triton-venv run test lint proto bench demo clean

# Two distributions from this checkout, installed editable in one pip command: the client
# (clients/python: stubs, Client, CLI) and the server (the root). `make run` installs what
# running needs; `make test`, `lint` and `bench` add the dev and benchmark tools.
RUN_EXTRAS := server,train,triton,aws,postgres
CLIENT := ./clients/python
PACKAGING := pyproject.toml $(CLIENT)/pyproject.toml $(CLIENT)/labelgate/VERSION

$(VENV)/.installed-run: $(PACKAGING)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e $(CLIENT) -e '.[$(RUN_EXTRAS)]'
	touch $@

$(VENV)/.installed: $(VENV)/.installed-run
	$(PIP) install --quiet -e $(CLIENT) -e '.[$(RUN_EXTRAS),dev,bench]'
	touch $@

venv: $(VENV)/.installed

$(TRITON_VENV)/.installed:
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install --quiet --upgrade pip
	$(TRITON_VENV)/bin/pip install --quiet --no-deps $(TRITON_PKGS)
	touch $@

triton-venv: $(TRITON_VENV)/.installed

run: $(VENV)/.installed-run
	$(VENV)/bin/labelgate serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) \
		--metrics-port $(METRICS_PORT) --aws-port $(AWS_PORT)

# LABELGATE_REQUIRE_TRITON: the Triton tests fail, instead of skipping, without the server.
test: venv triton-venv
	LABELGATE_REQUIRE_TRITON=1 $(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	# import-linter reads one folder per root package: assemble `labelgate` as it installs.
	rm -rf build/import-tree && mkdir -p build/import-tree
	cp -r $(CLIENT)/labelgate build/import-tree/labelgate
	cp -r server build/import-tree/labelgate/server
	cp -r backends build/import-tree/labelgate/backends
	PYTHONPATH=build/import-tree $(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/hadolint Dockerfile
	$(BUF) lint

# Regenerate the committed Python stubs from proto/ (tests fail when they are stale).
proto: venv
	$(PY) -m grpc_tools.protoc -Iproto --python_out=clients/python --pyi_out=clients/python \
		--grpc_python_out=clients/python proto/labelgate/v1/custom_labels.proto

bench: venv
	$(PY) -m bench

# The whole story on examples/quickstart: project, import, train, evaluate, start, detect, stop.
demo: venv
	$(PY) examples/demo.py

clean:
	rm -rf $(VENV) $(TRITON_VENV) build *.egg-info $(CLIENT)/build $(CLIENT)/*.egg-info
