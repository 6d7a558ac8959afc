"""The deterministic 80/20 train/test split behind DistributeDatasetEntries (and reusable by
training's auto-split, which reports the same rule as `..._FOR_AUTOSPLIT`).

Rule (AWS does not publish one; its message speaks of "labeled images per label"):

* at least 2 labelled images in the training dataset, and every label on at least
  `min_images_per_label` (2) of them, so one image can move and one can stay;
* images move label by label, rarest label first, each label moving about `fraction` of
  its images (at least 1), and an image moves only if every label on it keeps at least
  one image in training;
* after that, every label must have images on both sides, otherwise the split fails.
  So a successful split always leaves every label in both datasets.

Unlabelled images are split separately: `fraction` of them (rounded) move.

"Deterministic" means: the same entries (by source-ref and labels) give the same split,
whatever order they were stored in, because every choice walks the images ordered by a
stable hash of their source-ref.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

TEST_FRACTION = 0.2
MIN_IMAGES_PER_LABEL = 2


def stable_key(source_ref: str) -> bytes:
    """The order in which split decisions visit images (a hash, so not alphabetical)."""
    return hashlib.blake2b(source_ref.encode("utf-8"), digest_size=16).digest()


@dataclass(frozen=True)
class SplitItem:
    ident: int
    key: bytes  # stable_key(source_ref)
    labels: tuple[str, ...]


class InsufficientImagesError(Exception):
    """Too few labelled images to give both datasets every label."""


def _round(x: float) -> int:
    return int(x + 0.5)  # half up, unlike round()'s half-to-even


def choose_test_items(
    items: Iterable[SplitItem],
    *,
    fraction: float = TEST_FRACTION,
    min_images_per_label: int = MIN_IMAGES_PER_LABEL,
) -> set[int]:
    """The idents of the items that move to the test side (see the module docstring)."""
    ordered = sorted(items, key=lambda item: item.key)
    labelled = [item for item in ordered if item.labels]
    if len(labelled) < 2:
        raise InsufficientImagesError(
            f"The training dataset has {len(labelled)} labeled images; at least 2 are needed."
        )
    counts = Counter(label for item in labelled for label in set(item.labels))
    short = sorted(label for label, n in counts.items() if n < min_images_per_label)
    if short:
        shown = ", ".join(short[:5]) + (" ..." if len(short) > 5 else "")
        raise InsufficientImagesError(
            f"Each label needs at least {min_images_per_label} labeled images; "
            f"{len(short)} labels have fewer: {shown}."
        )

    by_label: dict[str, list[SplitItem]] = defaultdict(list)
    for item in labelled:
        for label in set(item.labels):
            by_label[label].append(item)
    remaining = dict(counts)  # images per label still on the training side
    in_test: Counter[str] = Counter()
    chosen: set[int] = set()
    for label in sorted(counts, key=lambda name: (counts[name], name)):
        target = max(1, _round(fraction * counts[label]))
        for item in by_label[label]:
            if in_test[label] >= target:
                break
            labels = set(item.labels)
            if item.ident in chosen or any(remaining[other] <= 1 for other in labels):
                continue
            chosen.add(item.ident)
            for other in labels:
                remaining[other] -= 1
                in_test[other] += 1

    missing = sorted(label for label in counts if in_test[label] == 0)
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InsufficientImagesError(
            f"{len(missing)} labels cannot be given images in both datasets: {shown}."
        )

    unlabelled = [item for item in ordered if not item.labels]
    chosen.update(item.ident for item in unlabelled[: _round(fraction * len(unlabelled))])
    return chosen
