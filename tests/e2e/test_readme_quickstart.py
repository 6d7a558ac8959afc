"""The README, followed literally by a newcomer: `make run` in one terminal, then the quick
start, training, serving, "From Python" and "Use it from boto3" sections in another.

The commands are read from the README's fenced blocks, in order, and run as written — the
test keeps no copy of them — so the README cannot drift from what works. The server is
`make run` itself, from the root of a copy of this checkout (relative `--data-dir
./.labelgate`, default ports), so the settings a new user gets are the ones tested.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.test_main import wait_serving

ROOT = Path(__file__).resolve().parents[2]
#: The sections a newcomer runs, in README order: their shell blocks run in one session.
SHELL_SECTIONS = ("Quick start", "Training a model", "Serving a model")
PYTHON_SECTIONS = ("From Python", "Use it from boto3")
#: `make run`'s defaults (Makefile): gRPC, metrics, the AWS-compatible front.
PORTS = (50051, 9464, 8080)
#: The venvs `make test` built; the copy links to them so `make run` finds them installed.
VENVS = (".venv", ".venv-triton")
LABELS = ("hat", "pants", "shoes", "t-shirt")


@dataclass(frozen=True)
class Block:
    section: str
    language: str
    code: str


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of the README with its `## ` section, in order."""
    blocks: list[Block] = []
    section = ""
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
    position = 0
    for match in fence.finditer(text):
        headings = re.findall(r"^## (.+)$", text[position:match.start()], re.M)
        if headings:
            section = headings[-1].strip()
        position = match.end()
        blocks.append(Block(section, match.group(1), match.group(2)))
    return blocks


def blocks_of(sections: tuple[str, ...], language: str) -> list[Block]:
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    found = [b for b in blocks if b.section in sections and b.language == language]
    assert {b.section for b in found} == set(sections), f"README sections {sections} moved"
    return found


def make_run_command() -> list[str]:
    """The `make run` line of the README's set-up block, comment stripped."""
    lines = [line.split("#", 1)[0].strip() for setup in blocks_of(("Set up",), "sh")
             for line in setup.code.splitlines()]
    (command,) = [line for line in lines if line.startswith("make run")]
    return shlex.split(command)


def copy_checkout(target: Path) -> None:
    """What a clone holds: tracked files and new ones not ignored (mtimes kept, so make
    sees the linked venvs as up to date)."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for venv in VENVS:
        assert (ROOT / venv / ".installed").exists(), f"run `make test` first ({venv})"
        (target / venv).symlink_to(ROOT / venv)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{args[:2]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_readme_works_as_written_against_make_run(tmp_path):
    busy = [port for port in PORTS if not port_is_free(port)]
    assert not busy, f"make run's ports {busy} are taken: stop what listens there"
    checkout = tmp_path / "labelgate"
    checkout.mkdir()
    copy_checkout(checkout)
    # A newcomer's shell: nothing of ours set, the tools of the machine on PATH.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABELGATE_", "AWS_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    server = subprocess.Popen(make_run_command(), cwd=checkout, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        wait_serving("127.0.0.1:50051", server, timeout=120)
        script = "\n".join(b.code for b in blocks_of(SHELL_SECTIONS, "sh"))
        shell = run(["bash", "-euo", "pipefail", "-c", script], checkout, env, timeout=600)
        out = shell.stdout
        # `make run`'s relative data folder is where the README says, next to the Makefile.
        assert (checkout / ".labelgate" / "labelgate.db").exists()
        assert '"Status": "CREATE_COMPLETE"' in out
        assert all(f'"LabelName": "{label}"' in out for label in LABELS), out
        completed = re.search(r"TRAINING_COMPLETED\s+([0-9.]+)", out)
        assert completed, out
        # The README states what the quick start reaches (F1 1.0 on 40 photos).
        assert float(completed.group(1)) >= 0.8, out
        assert (checkout / "v1.zip").stat().st_size > 0  # export-model
        assert '"CustomLabels"' in out and '"Confidence"' in out, out

        python = str(ROOT / ".venv" / "bin" / "python")
        for block in blocks_of(PYTHON_SECTIONS, "python"):
            result = run([python, "-c", block.code], checkout, env, timeout=240)
            assert result.stdout.strip(), f"{block.section} printed nothing"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            _, stderr = server.communicate()
        print(stderr[-5000:], file=sys.stderr)
