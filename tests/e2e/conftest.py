"""A real gateway (local backend, loopback gRPC) per test module, and a client to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labelgate.client import Client
from labelgate.server.testing import running_gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[object]:
    with running_gateway() as gw:
        yield gw


@pytest.fixture
def client(gateway) -> Iterator[Client]:
    with Client(gateway.address) as c:
        yield c
