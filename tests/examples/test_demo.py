"""`make demo` (examples/demo.py) runs its whole story; the test learner stands in for the
real trainer so it takes seconds (the trainer itself is tested in tests/training_ml)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"

pytestmark = pytest.mark.slow


def test_the_demo_goes_from_project_to_detected_labels(monkeypatch, capsys, tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("labelgate_demo", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main(["--budget", "60", "--learner", "fake",
                      "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("== ")]
    assert [s.split(".")[0] for s in steps] == [f"== {n}" for n in range(1, 8)]
    assert "200 labelled images, labels: hat, pants, shoes, t-shirt" in out
    assert "Train a model in at most 60 s" in out
    assert "TRAINING_COMPLETED in" in out
    assert "RUNNING after" in out and "STOPPED" in out
    detected = [line for line in out.splitlines() if ".jpg:" in line]
    assert len(detected) == 8  # two images of each label
    # The test learner's answers are not a quality claim (the README's test trains the real
    # learner on this example and checks its F1): here every image must get labels of the
    # example's own, each with a confidence, as the demo prints them.
    labels = {"hat", "pants", "shoes", "t-shirt"}
    for line in detected:
        answers = re.findall(r"([\w-]+) \((\d+\.\d)%\)", line.split(":", 1)[1])
        assert answers and {name for name, _ in answers} <= labels, line
        assert all(0 < float(confidence) <= 100 for _, confidence in answers), line
