"""Structured logs: one JSON object a line off a terminal, readable text on one.

The call fields (request_id, method, backend) come from `calls.current()` through a handler
filter, so every line logged while a call is handled carries them, whichever library or
backend logged it, without anyone passing them along.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any

from labelgate.server import calls

_CALL_FIELDS = ("request_id", "method", "backend")
# LogRecord attributes that are plumbing rather than content; everything else a caller put
# in `extra=` is kept in the JSON object.
_RECORD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class CallContextFilter(logging.Filter):
    """Copies the current call's fields onto each record (None outside a call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        state = calls.current()
        for name in _CALL_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(state, name, None) if state else None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CALL_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in _CALL_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s%(call)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid, method = getattr(record, "request_id", None), getattr(record, "method", None)
        record.call = f" [{method} {rid}]" if rid else ""
        try:
            return super().format(record)
        finally:
            del record.call  # other handlers see the record unchanged


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: IO[str] | None = None
                      ) -> logging.Handler:
    """Route the root logger to `stream` (stderr) in the chosen format; returns the handler.

    Replaces a handler this function installed before, so calling it twice does not double
    every line. Called by `run()`, never by `Gateway`, so tests keep pytest's log capture.
    """
    stream = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(CallContextFilter())
    handler._labelgate = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_labelgate", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
