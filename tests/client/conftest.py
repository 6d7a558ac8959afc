"""Fixtures for the client tests."""

from collections.abc import Iterator

import pytest

from labelgate.client import Client
from tests.client.fake_gateway import FakeGateway, fake_gateway


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with fake_gateway() as fake:
        yield fake


@pytest.fixture
def client(gateway: FakeGateway) -> Iterator[Client]:
    with Client(gateway.address) as c:
        yield c
