"""Fixtures for the CLI tests: the in-process runner and an in-test gateway."""

from collections.abc import Iterator

import pytest

from tests.cli_runner import Result, cli
from tests.client.fake_gateway import FakeGateway, fake_gateway

__all__ = ["Result", "cli", "gateway"]


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with fake_gateway() as fake:
        yield fake
