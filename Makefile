# labelgate — developer entry points. Everything installs from this repository's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 50051
DATA_DIR ?= ./.labelgate
METRICS_PORT ?= 9464
BUF := npx --yes @bufbuild/buf@1.75.0

.PHONY: venv run test lint proto bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev,train,bench]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(VENV)/bin/labelgate serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) --metrics-port $(METRICS_PORT)

test: venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .
	$(BUF) lint

# Regenerate the committed Python stubs from proto/ (tests fail when they are stale).
proto: venv
	$(PY) -m grpc_tools.protoc -Iproto --python_out=clients/python --pyi_out=clients/python \
		--grpc_python_out=clients/python proto/labelgate/v1/custom_labels.proto

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
