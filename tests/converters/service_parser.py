"""The project's own manifest validator, behind one function so that a change of its API is
a fix here only. Every converter's output must pass it: no line dropped, no error anywhere.

It runs without image checks (the images of these tests do not exist).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelgate.backends.local.validation.manifests import validate_lines


@dataclass(frozen=True)
class ServiceLine:
    """What the service made of one line."""

    source_ref: str
    image_labels: frozenset[str]
    box_labels: frozenset[str]
    warnings: frozenset[str]  # codes, at any level
    line: str  # as a dataset stores it (with cl-metadata)


def _warning_codes(value: Any) -> set[str]:
    codes: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "warnings" and isinstance(inner, list):
                codes |= {w["code"] for w in inner}
            else:
                codes |= _warning_codes(inner)
    elif isinstance(value, list):
        for inner in value:
            codes |= _warning_codes(inner)
    return codes


def service_entries(manifest: Path | str) -> list[ServiceLine]:
    """Validate a manifest file (or its text) as the service does on import; fail the test
    on a line it would drop or mark with an error. Warnings (an unlabelled image, an image
    without boxes) are allowed and returned."""
    text = manifest.read_text(encoding="utf-8") if isinstance(manifest, Path) else manifest
    assert text.endswith("\n"), "a manifest ends with a newline"
    lines = text.split("\n")[:-1]
    verdicts = list(validate_lines(lines, images=None, error_key="cl-errors"))
    assert len(verdicts) == len(lines)
    out = []
    for verdict in verdicts:
        where = f"line {verdict.number}: {verdict.output_line}"
        assert verdict.source_ref is not None, where
        assert verdict.status != "invalid" and not verdict.has_errors, where
        out.append(ServiceLine(verdict.source_ref, verdict.image_labels, verdict.box_labels,
                               frozenset(_warning_codes(json.loads(verdict.output_line))),
                               verdict.output_line))
    assert len({e.source_ref for e in out}) == len(out), "a source-ref repeats"
    return out
