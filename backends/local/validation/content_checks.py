"""The terminal manifest content checks of training.md §2.4 and the `manifest_summary.json`
document of §3.1 they end up in.

Placement (§3.1): a check about one manifest goes in `statistics.<training|testing>.errors`;
the overlap checks span both, so they go in the top-level `errors`. The version's
StatusMessage is the first error in the order training, testing, top level, each list in
the order of the checks below.

Label minimums ([DESIGN], training.md §2.4 #6 and #9, datasets.md §2.2): image-level models need 2
labels, object localization 1 (the quota table; the detector adds a background class of its
own, which is how the guide's "localization needs 2 usable labels" reads). The same minimum
applies to both codes; which one is raised says why the labels are too few:
`ERROR_MANIFEST_TOO_FEW_LABELS` when the valid lines carry too few labels at all,
`ERROR_MANIFEST_TOO_FEW_USABLE_LABELS` when there were enough until the lines of the other
kind were filtered out. Likewise the overlap: `..._USABLE_LABEL_OVERLAP` only when the
labels overlap enough before filtering. Label counts are taken after any auto-split, on each
side of it. `ERROR_MANIFEST_TOO_MANY_LABELS` counts the usable labels (the model's).

Image buckets (§2.4 #3, #4), per manifest: `ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET`
when the blob store refused an image of the manifest (S3 AccessDenied/403, a local
PermissionError) or the images bucket's ACL; `ERROR_INVALID_IMAGES_S3_BUCKET_OWNER` when
an images bucket's owner (GetBucketAcl `Owner.ID`) is not the owner of the manifest's
bucket. validation.py gathers both facts; the owner check needs a store with owners (S3)
and is skipped for the local store, whose buckets are folders of one tree. They come
first in the manifest's list: a bucket the service cannot read, or may not use, is the
cause of the invalid lines its images make, so it is what the StatusMessage names.

Not raised here: `ERROR_FAILED_IMAGES_S3_COPY` (the trainer's image copy),
`ERROR_TOO_MANY_RECORDS_IN_ERROR` (indistinguishable from the invalid-rows rule, §2.4 #12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labelgate.backends.local.validation.manifests import FILE_ERROR_MESSAGES
from labelgate.backends.local.validation.tally import IMAGE_LEVEL_LABELS, OBJECT_LOCALIZATION

TOO_MANY_INVALID_ROWS = "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
MULTIPLE_BUCKETS = "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"
IMAGES_BUCKET_PERMISSIONS = "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET"
IMAGES_BUCKET_OWNER = "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER"
AUTOSPLIT = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"
TOO_FEW_LABELS = "ERROR_MANIFEST_TOO_FEW_LABELS"
TOO_MANY_LABELS = "ERROR_MANIFEST_TOO_MANY_LABELS"
TOO_FEW_USABLE_LABELS = "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS"
LABEL_OVERLAP = "ERROR_INSUFFICIENT_LABEL_OVERLAP"
USABLE_LABEL_OVERLAP = "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP"

MAX_INVALID_ROW_RATIO = 0.20
MIN_LABEL_OVERLAP_PERCENT = 50  # as rendered in the messages
MAX_LABELS = 250
MIN_LABELS = {IMAGE_LEVEL_LABELS: 2, OBJECT_LOCALIZATION: 1}

#: The exact messages, from the one table manifests.py keeps for every documented code (the
#: overlap templates rendered with 50, [DESIGN] training.md §2.4 #8).
CONTENT_ERROR_MESSAGES = {
    code: FILE_ERROR_MESSAGES[code]
    for code in (TOO_MANY_INVALID_ROWS, MULTIPLE_BUCKETS, IMAGES_BUCKET_PERMISSIONS,
                 IMAGES_BUCKET_OWNER, AUTOSPLIT, TOO_FEW_LABELS, TOO_MANY_LABELS,
                 TOO_FEW_USABLE_LABELS, LABEL_OVERLAP, USABLE_LABEL_OVERLAP)
}


@dataclass(frozen=True)
class ContentError:
    code: str

    @property
    def message(self) -> str:
        return CONTENT_ERROR_MESSAGES[self.code]

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ManifestFacts:
    """What the checks need to know about one manifest (or one side of an auto-split)."""

    total_lines: int
    invalid_lines: int
    bucket_count: int
    all_labels: frozenset[str]  # of every valid line, before use-case filtering
    usable_labels: frozenset[str]  # of the lines of the chosen kind
    images_denied: bool = False  # the store refused an image (or an images bucket's ACL)
    foreign_images_owner: bool = False  # an images bucket's owner is not the manifest's


def too_many_invalid_rows(facts: ManifestFacts) -> bool:
    # Ignored (warning-only) lines are not invalid; blank and unparsable lines are (§2.4 #1).
    return facts.invalid_lines > MAX_INVALID_ROW_RATIO * facts.total_lines


def file_level_errors(facts: ManifestFacts) -> list[ContentError]:
    """The checks that need no use case: image buckets and invalid rows."""
    errors = []
    if facts.images_denied:
        errors.append(ContentError(IMAGES_BUCKET_PERMISSIONS))
    if facts.foreign_images_owner:
        errors.append(ContentError(IMAGES_BUCKET_OWNER))
    if too_many_invalid_rows(facts):
        errors.append(ContentError(TOO_MANY_INVALID_ROWS))
    if facts.bucket_count > 1:
        errors.append(ContentError(MULTIPLE_BUCKETS))
    return errors


def label_count_errors(facts: ManifestFacts, use_case: str) -> list[ContentError]:
    minimum = MIN_LABELS[use_case]
    errors = []
    if len(facts.all_labels) < minimum:
        errors.append(ContentError(TOO_FEW_LABELS))
    if len(facts.usable_labels) > MAX_LABELS:
        errors.append(ContentError(TOO_MANY_LABELS))
    if len(facts.all_labels) >= minimum > len(facts.usable_labels):
        errors.append(ContentError(TOO_FEW_USABLE_LABELS))
    return errors


def _overlap_below_minimum(training: frozenset[str], testing: frozenset[str]) -> bool:
    # Overlap = labels common to both / training labels (§2.4 #8). No training labels: the
    # label-count checks already fail the manifest, overlap says nothing more.
    if not training:
        return False
    return len(training & testing) * 100 < MIN_LABEL_OVERLAP_PERCENT * len(training)


def overlap_errors(training: ManifestFacts, testing: ManifestFacts) -> list[ContentError]:
    if _overlap_below_minimum(training.all_labels, testing.all_labels):
        return [ContentError(LABEL_OVERLAP)]
    if _overlap_below_minimum(training.usable_labels, testing.usable_labels):
        return [ContentError(USABLE_LABEL_OVERLAP)]
    return []


@dataclass
class DatasetReport:
    """One `statistics.<training|testing>` object of the manifest summary."""

    use_case: str
    total_json_lines: int = 0
    valid_json_lines: int = 0
    invalid_json_lines: int = 0
    ignored_json_lines: int = 0
    error_json_line_indices: Sequence[int] = ()
    errors: list[ContentError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case,
            "total_json_lines": self.total_json_lines,
            "valid_json_lines": self.valid_json_lines,
            "invalid_json_lines": self.invalid_json_lines,
            "ignored_json_lines": self.ignored_json_lines,
            "error_json_line_indices": list(self.error_json_line_indices),
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass
class ManifestSummary:
    training: DatasetReport
    testing: DatasetReport
    errors: list[ContentError] = field(default_factory=list)  # spanning both manifests

    def all_errors(self) -> list[ContentError]:
        """Every content error, the one the StatusMessage shows first."""
        return [*self.training.errors, *self.testing.errors, *self.errors]

    def to_json(self) -> dict[str, Any]:
        return {
            "statistics": {
                "training": self.training.to_json(),
                "testing": self.testing.to_json(),
            },
            "errors": [e.to_json() for e in self.errors],
        }
