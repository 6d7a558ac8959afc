"""Shared test configuration. Fixtures that only one area needs live next to its tests."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    # PostgreSQL-only tests run when CI (or a developer) points us at a real server.
    if os.environ.get("LABELGATE_TEST_POSTGRES_URL"):
        return
    skip = pytest.mark.skip(reason="LABELGATE_TEST_POSTGRES_URL is not set")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
