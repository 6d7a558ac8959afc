"""The container image as the Dockerfile describes it (no Docker engine runs in CI, so the
parts that can be checked without one are: its shape, and its HEALTHCHECK against a real
gateway started with the image's own environment)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labelgate.server.config import load_settings
from labelgate.server.testing import running_gateway
from tests.server.test_main import free_port

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in final_stage():
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
    return env


def test_the_image_is_multi_stage_unprivileged_and_can_train():
    steps = instructions()
    assert sum(k == "FROM" for k, _ in steps) >= 2
    final = final_stage()
    (user,) = [rest for k, rest in final if k == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    install = " ".join(rest for k, rest in steps if k == "RUN" and "pip install" in rest)
    assert "train" in install and "postgres" in install  # trains as well as serves
    assert any(k == "COPY" and rest.startswith("--from=build") for k, rest in final)
    assert ("VOLUME", '["/data"]') in final


def test_exposed_ports_are_the_ones_it_listens_on():
    (exposed,) = [rest for k, rest in final_stage() if k == "EXPOSE"]
    settings = load_settings(env=image_env())
    assert {int(p) for p in exposed.split()} == {settings.port, settings.aws_port,
                                                 settings.metrics_port}
    assert settings.host == settings.aws_host == settings.metrics_host == "0.0.0.0"
    assert settings.data_dir == Path("/data")


def test_the_healthcheck_follows_the_gateway(tmp_path):
    (healthcheck,) = [rest for k, rest in final_stage() if k == "HEALTHCHECK"]
    command = json.loads(healthcheck.split("CMD", 1)[1].strip())
    assert command[0] == "python"
    command[0] = sys.executable
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LABELGATE_")},
           **image_env(), "LABELGATE_PORT": str(port)}

    def probe() -> int:
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    settings = load_settings(env=env).replace(data_dir=tmp_path, aws_port=0,
                                              shutdown_grace_seconds=0.5)
    with running_gateway(settings, host="0.0.0.0", port=port, metrics_port=0):
        assert probe() == 0
    assert probe() == 1


@pytest.mark.parametrize("address", ["127.0.0.1:1"])
def test_the_healthcheck_fails_where_nothing_listens(address):
    from labelgate.server.healthcheck import main

    assert main([address]) == 1


def test_the_image_says_at_start_that_its_api_is_open():
    """The image listens beyond loopback, which the gateway tells its operator at start."""
    from labelgate.server.app import exposure_warnings

    said = exposure_warnings(load_settings(env=image_env()))
    assert len(said) == 2 and "without authentication" in said[0]
    assert "aws_access_keys" in said[1]
    keyed = load_settings(env={**image_env(), "LABELGATE_AWS_ACCESS_KEYS": "AKID:secret"})
    assert len(exposure_warnings(keyed)) == 1
    assert exposure_warnings(load_settings(env={})) == []  # make run's loopback defaults
