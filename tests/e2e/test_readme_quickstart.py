"""The README's quick start, run as written against `labelgate serve`, so the docs stay true."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.test_main import free_port, wait_serving

ROOT = Path(__file__).resolve().parents[2]


def quickstart_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quick start has a sh block"
    # The venv is already on PATH here; everything else runs exactly as written.
    return block.group(1).replace("source .venv/bin/activate\n", "")


@pytest.mark.slow
def test_readme_quick_start_works_as_written(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELGATE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    server = subprocess.Popen(
        [sys.executable, "-m", "labelgate.server", "--port", str(port),
         "--metrics-port", str(metrics_port), "--data-dir", str(tmp_path / ".labelgate")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        wait_serving(f"127.0.0.1:{port}", server)
        env["LABELGATE_ENDPOINT"] = f"127.0.0.1:{port}"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", quickstart_script()],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"Status": "CREATE_COMPLETE"' in result.stdout
        assert '"LabelName": "ocean"' in result.stdout and '"LabelName": "sunrise"' in result.stdout
        check = subprocess.run(
            ["labelgate", "describe-projects", "--project-names", "quickstart", "--query",
             "ProjectDescriptions[0].Datasets[].DatasetType", "--output", "text"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
        )
        assert check.stdout.split() == ["TRAIN", "TEST"], check.stdout + check.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
