"""load_predictor: dispatch on the card's task, and no torch on the serving path."""

import subprocess
import sys

import pytest

from labelgate.backends.local.inference import predictor
from labelgate.backends.local.inference.card import InputSpec, ModelCard


def _card(task: str) -> ModelCard:
    return ModelCard(
        task=task,
        labels=("a",),
        backbone="x",
        input=InputSpec(name="image", height=8, width=8, resize="stretch"),
    )


class _Fake:
    def __init__(self, model_dir, card, threads):
        self.card, self.model_dir, self.threads = card, model_dir, threads


def test_the_card_task_picks_the_registered_factory(tmp_path, monkeypatch):
    monkeypatch.setitem(predictor._REGISTRY, "detection", f"{__name__}:_Fake")
    _card("detection").save(tmp_path)
    loaded = predictor.load_predictor(tmp_path, threads=3)
    assert isinstance(loaded, _Fake) and loaded.threads == 3 and loaded.model_dir == tmp_path


def test_a_task_without_a_predictor_is_refused(tmp_path, monkeypatch):
    monkeypatch.delitem(predictor._REGISTRY, "multilabel")
    _card("multilabel").save(tmp_path)
    with pytest.raises(ValueError, match="no predictor"):
        predictor.load_predictor(tmp_path)


def test_serving_imports_no_torch():
    code = (
        "import sys; import labelgate.backends.local.inference.classifier, "
        "labelgate.backends.local.inference.predictor; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
