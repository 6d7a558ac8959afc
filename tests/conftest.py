"""Shared test configuration. Fixtures that only one area needs live next to its tests.

PostgreSQL-only tests (marker `postgres`) run when LABELGATE_TEST_POSTGRES_URL names a
server. Without it they skip, unless LABELGATE_REQUIRE_POSTGRES is set (CI: .ci/run sets
it once PostgreSQL is up), where each of them fails instead: a CI run must never pass by
silently skipping the PostgreSQL half of the suite (as LABELGATE_REQUIRE_TRITON does for
the Triton tests).
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The test suite's learner plugins (`fake`, tests/training_jobs/fake_learner.py) are
#: registered by a dist-info folder that is on the path only while the tests run, for this
#: process and the gateways and training workers it starts; nothing is installed.
TEST_PLUGINS = ROOT / "tests" / "plugins"
sys.path[:0] = [str(TEST_PLUGINS)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(TEST_PLUGINS), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

POSTGRES_URL_ENV = "LABELGATE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "LABELGATE_REQUIRE_POSTGRES"


def _postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV, "").strip().lower() not in ("", "0", "false",
                                                                           "no")


def pytest_collection_modifyitems(config, items):
    # PostgreSQL-only tests run when CI (or a developer) points us at a real server.
    if os.environ.get(POSTGRES_URL_ENV) or _postgres_required():
        return
    skip = pytest.mark.skip(reason=f"{POSTGRES_URL_ENV} is not set")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_runtest_setup(item):
    if ("postgres" in item.keywords and not os.environ.get(POSTGRES_URL_ENV)
            and _postgres_required()):
        pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_URL_ENV} is not: this "
                    "PostgreSQL test cannot run (.ci/run starts PostgreSQL 15 and sets both)",
                    pytrace=False)
