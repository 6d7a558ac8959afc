"""Fixtures for the converter tests: the in-process `labelgate` runner."""

from tests.cli_runner import Result, cli

__all__ = ["Result", "cli"]
