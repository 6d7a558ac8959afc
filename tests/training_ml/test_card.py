"""model.json: the card round-trips, keeps unknown keys and refuses other formats."""

import json

import pytest

from labelgate.backends.local.inference.card import (
    CardError,
    InputSpec,
    ModelCard,
    Normalization,
)


def _card() -> ModelCard:
    return ModelCard(
        task="classification",
        labels=("a", "b"),
        backbone="efficientnet_lite0",
        input=InputSpec(
            name="image", height=192, width=192, resize="stretch", extra={"crop_fraction": 1.0}
        ),
        normalization=Normalization(),
        outputs={"scores": {"name": "scores"}},
        training={"seed": 0},
    )


def test_card_writes_the_documented_keys_and_reads_back_equal(tmp_path):
    path = _card().save(tmp_path)
    data = json.loads(path.read_text())
    assert set(data) == {
        "format", "format_version", "task", "labels", "backbone", "onnx_file", "input",
        "normalization", "outputs", "thresholds", "training", "metrics",
    }  # fmt: skip
    assert data["format"] == "labelgate-model" and data["format_version"] == 1
    assert set(data["input"]) == {
        "name", "layout", "dtype", "color", "height", "width", "resize", "value_range",
        "crop_fraction",
    }  # fmt: skip
    assert ModelCard.load(tmp_path) == _card()


def test_unknown_keys_survive_a_round_trip(tmp_path):
    data = _card().to_dict()
    data["future"] = {"x": 1}
    data["input"]["future_input"] = 2
    card = ModelCard.from_dict(data)
    assert card.to_dict() == data


@pytest.mark.parametrize(
    "change",
    [{"format": "other"}, {"format_version": 2}, {"task": "segmentation"}, {"labels": "a"}],
)
def test_other_formats_are_refused(change):
    data = {**_card().to_dict(), **change}
    with pytest.raises(CardError):
        ModelCard.from_dict(data)


def test_missing_card_is_a_card_error(tmp_path):
    with pytest.raises(CardError, match=r"model\.json"):
        ModelCard.load(tmp_path)
