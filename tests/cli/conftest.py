"""Fixtures for the CLI tests: parse helpers and an in-test gateway."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from labelgate.cli.main import main
from tests.client.fake_gateway import FakeGateway, fake_gateway


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `labelgate ARGS...` in-process; returns exit code, stdout and stderr."""
    monkeypatch.delenv("LABELGATE_ENDPOINT", raising=False)

    def run(*argv: str) -> Result:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            code = main(list(argv))
        finally:  # --debug configures the root logger on the captured stderr; undo it
            root.handlers[:], root.level = handlers, level
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with fake_gateway() as fake:
        yield fake
