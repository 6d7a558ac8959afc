"""The client distribution on its own: `pip install ./clients/python` in a fresh virtual
environment brings gRPC and protobuf (and botocore, which the CLI reads its commands from)
but none of the server's weight, and its `labelgate` CLI talks to a running gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from labelgate.server.testing import running_gateway

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"torch", "onnxruntime", "boto3", "prometheus-client", "sqlalchemy", "pillow",
               "numpy", "labelgate"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("client-only")
    # A copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    source = shutil.copytree(ROOT / "clients" / "python", tmp / "src",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(source)], check=True, timeout=600)
    return env_dir


def _clean_env() -> dict[str, str]:
    # Nothing of the test's own environment (PYTHONPATH to the checkout) leaks in.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def test_the_client_installs_without_the_server_dependencies(client_venv: Path):
    listed = subprocess.run([client_venv / "bin" / "python", "-m", "pip", "list",
                             "--format", "json"], check=True, capture_output=True, text=True,
                            env=_clean_env())
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "labelgate-client" in installed and {"grpcio", "protobuf"} <= installed
    assert not installed & SERVER_ONLY, sorted(installed & SERVER_ONLY)


def test_its_cli_talks_to_a_running_gateway(client_venv: Path):
    cli = client_venv / "bin" / "labelgate"
    with running_gateway() as gateway:
        created = subprocess.run(
            [cli, "--endpoint", gateway.address, "create-project", "--project-name", "solo"],
            capture_output=True, text=True, env=_clean_env(), timeout=60)
        assert created.returncode == 0, created.stderr
        described = subprocess.run(
            [cli, "--endpoint", gateway.address, "describe-projects"],
            capture_output=True, text=True, env=_clean_env(), timeout=60)
    assert described.returncode == 0, described.stderr
    projects = json.loads(described.stdout)["ProjectDescriptions"]
    assert [p["ProjectArn"].split("/")[1] for p in projects] == ["solo"]


def test_serve_says_the_server_is_not_installed(client_venv: Path):
    served = subprocess.run([client_venv / "bin" / "labelgate", "serve", "--port", "0"],
                            capture_output=True, text=True, env=_clean_env(), timeout=60)
    assert served.returncode != 0
    assert "server is not installed" in served.stderr and "Traceback" not in served.stderr
