"""Structured logs that carry the request id and method of the call being handled."""

from __future__ import annotations

import io
import json
import logging

import pytest

from labelgate.server.logging import configure_logging
from labelgate.server.testing import running_gateway
from labelgate.v1 import custom_labels_pb2 as pb
from tests.server.conftest import RecordingBackend


class ChattyBackend(RecordingBackend):
    async def describe_projects(self, request, context):
        logging.getLogger("labelgate.backends.test").info("listing", extra={"count": 0})
        return await super().describe_projects(request, context)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def capture():
    """configure_logging into a buffer; restores the root logger afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    installed: list[logging.Handler] = []

    def install(fmt: str = "auto", stream: io.StringIO | None = None) -> io.StringIO:
        stream = stream if stream is not None else io.StringIO()
        installed.append(configure_logging("INFO", fmt, stream))
        return stream

    yield install
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(saved[0])


def test_lines_logged_during_a_call_carry_request_id_and_method(capture, stub_for):
    out = capture("json")
    with running_gateway(backends={"a": ChattyBackend("a")}, default_backend="a") as gw:
        stub_for(gw.address).DescribeProjects(
            pb.DescribeProjectsRequest(), metadata=[("x-request-id", "rid-42")], timeout=5)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [entry] = [e for e in lines if e["message"] == "listing"]
    assert entry["request_id"] == "rid-42"
    assert entry["method"] == "DescribeProjects"
    assert entry["backend"] == "a"
    assert entry["count"] == 0 and entry["level"] == "INFO"
    # Lifecycle lines outside any call are JSON too, without call fields.
    serving = [e for e in lines if "serving on" in e["message"]]
    assert serving and "request_id" not in serving[0]


def test_auto_is_json_off_a_terminal_and_text_on_one(capture):
    piped = capture("auto")
    logging.getLogger("labelgate.test").warning("hello %s", "there")
    assert json.loads(piped.getvalue().splitlines()[-1])["message"] == "hello there"
    tty = capture("auto", Tty())
    logging.getLogger("labelgate.test").warning("hello %s", "there")
    text = tty.getvalue().splitlines()[-1]
    assert "WARNING" in text and "hello there" in text and not text.startswith("{")


def test_configuring_twice_does_not_duplicate_lines(capture):
    capture("json")
    second = capture("json")
    logging.getLogger("labelgate.test").warning("once")
    assert second.getvalue().count("once") == 1
