"""What one pass over a manifest's validated lines leaves behind: counts, the 1-based
numbers of lines with errors, the image buckets, the labels of each kind, and the numbers
of the valid lines of each kind. Compact by design: integers in arrays and label sets, never
the lines themselves, so a 250,000-line manifest costs a few megabytes.

The use case (training.md §2.2 step 4) is decided from the training tally: the kind (image-level
labels or bounding boxes) that more valid lines carry wins, a tie goes to
OBJECT_LOCALIZATION (the richer annotation), none at all is NOT_DETERMINED. Valid lines
without the chosen kind are filtered out: they are not "usable", so the manifest summary
counts them as ignored, keeping total = valid + invalid + ignored.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field

from labelgate.backends.local.validation.manifests import LineVerdict
from labelgate.backends.local.validation.splits import SplitItem, stable_key

IMAGE_LEVEL_LABELS = "IMAGE_LEVEL_LABELS"
OBJECT_LOCALIZATION = "OBJECT_LOCALIZATION"
NOT_DETERMINED = "NOT_DETERMINED"

VALID, INVALID, IGNORED = "valid", "invalid", "ignored"


def _intern(labels: frozenset[str]) -> tuple[str, ...]:
    # Many lines share few labels: one string object per label keeps split items small.
    return tuple(sorted(sys.intern(label) for label in labels))


@dataclass
class KindTally:
    """The valid lines carrying one kind of label."""

    lines: array = field(default_factory=lambda: array("I"))  # 1-based line numbers
    labels: set[str] = field(default_factory=set)
    split_items: list[SplitItem] | None = None  # kept only when an auto-split needs them


@dataclass
class ManifestTally:
    total: int = 0
    invalid: int = 0
    ignored: int = 0
    valid: int = 0
    error_lines: array = field(default_factory=lambda: array("I"))
    buckets: set[str] = field(default_factory=set)
    #: Buckets the store refused one of this manifest's images from (training.md §2.4 #3).
    denied_buckets: set[str] = field(default_factory=set)
    #: Images buckets whose owner is not the manifest bucket's (training.md §2.4 #4); filled by
    #: the validation stage's owner check after the pass, not by `add`.
    foreign_owner_buckets: set[str] = field(default_factory=set)
    image: KindTally = field(default_factory=KindTally)
    boxes: KindTally = field(default_factory=KindTally)

    @classmethod
    def for_split(cls) -> ManifestTally:
        tally = cls()
        tally.image.split_items = []
        tally.boxes.split_items = []
        return tally

    def add(self, verdict: LineVerdict) -> None:
        self.total += 1
        if verdict.has_errors:
            self.error_lines.append(verdict.number)
        if verdict.bucket is not None and len(self.buckets) < 2:
            self.buckets.add(verdict.bucket)  # two are enough to know there are several
        if verdict.image_denied and verdict.bucket is not None:
            self.denied_buckets.add(verdict.bucket)
        if verdict.status == INVALID:
            self.invalid += 1
            return
        if verdict.status != VALID:
            self.ignored += 1
            return
        self.valid += 1
        for kind, labels in ((self.image, verdict.image_labels), (self.boxes, verdict.box_labels)):
            if not labels:
                continue
            kind.lines.append(verdict.number)
            kind.labels.update(labels)
            if kind.split_items is not None:
                kind.split_items.append(
                    SplitItem(verdict.number, stable_key(verdict.source_ref or ""),
                              _intern(labels))
                )

    @property
    def all_labels(self) -> set[str]:
        """Labels of every valid line, whatever its kind (before use-case filtering)."""
        return self.image.labels | self.boxes.labels

    def kind(self, use_case: str) -> KindTally:
        if use_case == IMAGE_LEVEL_LABELS:
            return self.image
        if use_case == OBJECT_LOCALIZATION:
            return self.boxes
        return KindTally()

    def decide_use_case(self) -> str:
        if not self.image.lines and not self.boxes.lines:
            return NOT_DETERMINED
        if len(self.image.lines) > len(self.boxes.lines):
            return IMAGE_LEVEL_LABELS
        return OBJECT_LOCALIZATION
