"""The `cli` fixture: run `labelgate ARGS...` in-process (shared by CLI and converter tests)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from labelgate.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `labelgate ARGS...` in-process; returns exit code, stdout and stderr."""
    monkeypatch.delenv("LABELGATE_ENDPOINT", raising=False)

    def run(*argv: object) -> Result:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            code = main([str(arg) for arg in argv])
        finally:  # --debug configures the root logger on the captured stderr; undo it
            root.handlers[:], root.level = handlers, level
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
