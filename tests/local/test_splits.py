"""The deterministic, label-stratified 80/20 split behind DistributeDatasetEntries."""

from __future__ import annotations

import random

import pytest

from labelgate.backends.local.validation.splits import (
    InsufficientImagesError,
    SplitItem,
    choose_test_items,
    stable_key,
)


def items(spec: dict[str, tuple[str, ...]]) -> list[SplitItem]:
    return [SplitItem(i, stable_key(ref), labels) for i, (ref, labels) in enumerate(spec.items())]


def by_ref(spec: dict[str, tuple[str, ...]], chosen: set[int]) -> set[str]:
    refs = list(spec)
    return {refs[i] for i in chosen}


def dataset(n: int, labels: int = 4) -> dict[str, tuple[str, ...]]:
    return {f"s3://bkt/img{i}.jpg": (f"label{i % labels}",) for i in range(n)}


def test_moves_about_20_percent_and_every_label_lands_on_both_sides():
    spec = dataset(100)
    chosen = choose_test_items(items(spec))
    assert len(chosen) == 20
    test_labels = {spec[ref][0] for ref in by_ref(spec, chosen)}
    train_labels = {spec[ref][0] for ref in set(spec) - by_ref(spec, chosen)}
    assert test_labels == train_labels == {"label0", "label1", "label2", "label3"}


def test_same_entries_give_the_same_split_whatever_their_order():
    spec = dataset(60)
    first = by_ref(spec, choose_test_items(items(spec)))
    shuffled = list(spec.items())
    random.Random(7).shuffle(shuffled)
    reordered = dict(shuffled)
    assert by_ref(reordered, choose_test_items(items(reordered))) == first


def test_unlabelled_images_are_split_too():
    spec = dataset(10, labels=2) | {f"s3://bkt/u{i}.jpg": () for i in range(10)}
    moved = by_ref(spec, choose_test_items(items(spec)))
    assert len([r for r in moved if "/u" in r]) == 2


def test_a_label_with_one_image_is_insufficient():
    spec = dataset(10, labels=2) | {"s3://bkt/rare.jpg": ("rare",)}
    with pytest.raises(InsufficientImagesError, match="rare"):
        choose_test_items(items(spec))


def test_fewer_than_two_labelled_images_is_insufficient():
    with pytest.raises(InsufficientImagesError):
        choose_test_items(items({"s3://bkt/a.jpg": ("a",), "s3://bkt/b.jpg": ()}))


def test_co_occurring_labels_still_reach_both_sides():
    spec = {
        "s3://bkt/1.jpg": ("L", "M"),
        "s3://bkt/2.jpg": ("L", "N"),
        "s3://bkt/3.jpg": ("M",),
        "s3://bkt/4.jpg": ("N",),
    }
    moved = by_ref(spec, choose_test_items(items(spec)))
    kept = set(spec) - moved
    for label in "LMN":
        assert any(label in spec[r] for r in moved) and any(label in spec[r] for r in kept)


def test_labels_that_cannot_be_on_both_sides_fail():
    # Every pair of the three images shares a label, so no split keeps all three labels on
    # both sides: the rule fails it rather than return a test set missing a label.
    spec = {"s3://bkt/1.jpg": ("X", "P"), "s3://bkt/2.jpg": ("Y", "P"),
            "s3://bkt/3.jpg": ("X", "Y")}
    with pytest.raises(InsufficientImagesError, match="both datasets"):
        choose_test_items(items(spec))
