"""The validation stage of training (training.md §2.2), synchronous: the training service
runs it on a worker thread.

1. Manifest *file* checks on both inputs (§2.3). A failure ends the stage with the bare
   message and no outputs at all.
2. The OutputConfig location must take a write (`Unable to write to output S3 bucket.`).
3. Every line of both manifests goes through the line validator; each verdict's output
   line is spooled to a local file (one output line per input line, input order) and
   summed up in a `ManifestTally`. Memory does not grow with the manifest. Images the store
   refuses mark their bucket (`ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET`). Then, on a
   store with bucket owners (S3), each images bucket's owner (GetBucketAcl `Owner.ID`) is
   compared with the owner of the manifest's bucket (`ERROR_INVALID_IMAGES_S3_BUCKET_OWNER`;
   a project dataset has no manifest bucket, so the OutputConfig bucket stands in: the
   spec's fix puts training, test, output and image buckets under one owner). An images
   bucket whose ACL is refused counts as a permissions error; a reference bucket whose ACL
   is refused skips the owner check (logged). The local store has no owners: skipped.
4. The use case is decided from the valid training lines; lines of the other kind stop
   being usable (tally.py).
5. Auto-split (no test set, or `AutoCreate`): the usable training lines are split 80/20 by
   splits.py. The training validation manifest keeps every input line; the testing
   validation manifest holds the lines moved to the test set.
6. Content checks (content_checks.py) give `manifest_summary.json`. The two validation
   manifests are uploaded, then the summary (last, so a summary means the set is whole).

The outcome is a `FileFailure`, a `ContentFailure` (the first content error's message) or
`ValidationPassed` carrying the `ValidatedInputs` the trainer starts from.
"""

from __future__ import annotations

import bisect
import logging
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from labelgate.backends.local.blobs.stores import BlobAccessDenied, BlobStore, bucket_owner
from labelgate.backends.local.core.background import JobInterrupted
from labelgate.backends.local.store.db import Database
from labelgate.backends.local.training.inputs import (
    InputSource,
    LineSource,
    ManifestInput,
    TrainingInputs,
    open_lines,
)
from labelgate.backends.local.training.outputs import (
    BlobLocation,
    JsonLinesWriter,
    OutputLocation,
    OutputNotWritable,
    scratch_dir,
    upload_file,
    upload_json,
)
from labelgate.backends.local.validation.content_checks import (
    AUTOSPLIT,
    TOO_FEW_LABELS,
    ContentError,
    DatasetReport,
    ManifestFacts,
    ManifestSummary,
    file_level_errors,
    label_count_errors,
    overlap_errors,
)
from labelgate.backends.local.validation.image_probe import ImageProbe
from labelgate.backends.local.validation.manifests import (
    FILE_ERROR_MESSAGES,
    ManifestFileError,
    ManifestLimits,
    validate_lines,
)
from labelgate.backends.local.validation.splits import InsufficientImagesError, choose_test_items
from labelgate.backends.local.validation.tally import NOT_DETERMINED, KindTally, ManifestTally
from labelgate.errors import InvalidS3ObjectException

log = logging.getLogger(__name__)

CANNOT_WRITE_OUTPUT = "ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET"
CANNOT_WRITE_OUTPUT_MESSAGE = FILE_ERROR_MESSAGES[CANNOT_WRITE_OUTPUT]


# --- what the stage hands on --------------------------------------------------------------


@dataclass(frozen=True)
class ValidationOutputs:
    """The three files the stage wrote (DescribeProjectVersions points at them)."""

    training_validation: BlobLocation
    testing_validation: BlobLocation
    summary: BlobLocation


@dataclass(frozen=True)
class ValidatedManifest:
    """One side of the training data, as validated.

    `usable_lines` are the 1-based numbers of the lines of `validation_manifest` to use
    (valid, of the model's kind, on this side of any split), ascending. Those lines are the
    input lines with the validator's `errors` added: a box carrying `errors` is not usable,
    the line's other boxes are.
    """

    validation_manifest: BlobLocation
    usable_lines: array
    labels: frozenset[str]


@dataclass(frozen=True)
class ValidatedInputs:
    """Everything the trainer needs from validation."""

    use_case: str  # IMAGE_LEVEL_LABELS | OBJECT_LOCALIZATION
    labels: tuple[str, ...]  # the model's labels: the usable training labels, sorted
    training: ValidatedManifest
    testing: ValidatedManifest
    auto_split: bool
    outputs: ValidationOutputs


@dataclass(frozen=True)
class FileFailure:
    """A manifest file error or an unwritable output: no outputs, no summary."""

    message: str


@dataclass(frozen=True)
class ContentFailure:
    message: str  # the first content error's (the StatusMessage)
    outputs: ValidationOutputs
    summary: ManifestSummary


@dataclass(frozen=True)
class ValidationPassed:
    inputs: ValidatedInputs
    summary: ManifestSummary

    @property
    def outputs(self) -> ValidationOutputs:
        return self.inputs.outputs


ValidationOutcome = FileFailure | ContentFailure | ValidationPassed


def file_error_message(error: ManifestFileError) -> str:
    """The bare message of a file error (training.md §1.3 [DESIGN]: no code, no detail)."""
    return error.message


# --- one side's facts and report ----------------------------------------------------------


def _facts(tally: ManifestTally, kind: KindTally) -> ManifestFacts:
    return ManifestFacts(
        total_lines=tally.total,
        invalid_lines=tally.invalid,
        bucket_count=len(tally.buckets),
        all_labels=frozenset(tally.all_labels),
        usable_labels=frozenset(kind.labels),
        images_denied=bool(tally.denied_buckets),
        foreign_images_owner=bool(tally.foreign_owner_buckets),
    )


def _report(tally: ManifestTally, use_case: str, usable: int) -> DatasetReport:
    return DatasetReport(
        use_case=use_case,
        total_json_lines=tally.total,
        valid_json_lines=usable,
        invalid_json_lines=tally.invalid,
        # Valid lines of the kind not chosen are ignored too (tally.py).
        ignored_json_lines=tally.total - tally.invalid - usable,
        error_json_line_indices=tally.error_lines,
        errors=file_level_errors(_facts(tally, tally.kind(use_case))),
    )


def _contains(sorted_numbers: array, number: int) -> bool:
    at = bisect.bisect_left(sorted_numbers, number)
    return at < len(sorted_numbers) and sorted_numbers[at] == number


# --- the stage ------------------------------------------------------------------------------


class TrainingDataValidator:
    """Runs the stage for one version at a time; safe to share between threads."""

    def __init__(
        self,
        *,
        db: Database,
        blobs: BlobStore,
        limits: ManifestLimits,
        images: ImageProbe | None,
        stop: threading.Event | None = None,
        check_every: int = 256,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._limits = limits
        self._images = images
        self._stop = stop or threading.Event()
        self._check_every = check_every

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise JobInterrupted

    def validate(self, inputs: TrainingInputs, output: OutputLocation) -> ValidationOutcome:
        sources = [open_lines(s, db=self._db, blobs=self._blobs, limits=self._limits)
                   for s in (inputs.training, inputs.testing) if s is not None]
        try:
            for source in sources:
                source.check_file()
        except ManifestFileError as exc:
            return FileFailure(file_error_message(exc))
        self._check_stop()
        try:
            output.check_writable(self._blobs)
        except OutputNotWritable as exc:
            log.info("output location s3://%s/%s is not writable: %s",
                     output.bucket, output.key(), exc)
            return FileFailure(CANNOT_WRITE_OUTPUT_MESSAGE)

        outputs = ValidationOutputs(
            output.training_validation, output.testing_validation, output.summary
        )
        with scratch_dir() as scratch:
            training_spool = scratch / "training.jsonl"
            testing_spool = scratch / "testing.jsonl"
            try:
                training = self._scan(sources[0], training_spool, for_split=inputs.auto_split)
                testing = None
                if not inputs.auto_split:
                    testing = self._scan(sources[1], testing_spool, for_split=False)
            except ManifestFileError as exc:  # the file changed under us since the check
                return FileFailure(file_error_message(exc))
            owners = _OwnerCache(self._blobs)
            self._check_owners(training, inputs.training, output, owners)
            if testing is not None and inputs.testing is not None:
                self._check_owners(testing, inputs.testing, output, owners)
            use_case = training.decide_use_case()
            if testing is None:
                summary, validated = self._assess_auto_split(
                    training, use_case, training_spool, testing_spool, outputs
                )
            else:
                summary, validated = self._assess(training, testing, use_case, outputs)
            try:
                upload_file(self._blobs, outputs.training_validation, training_spool)
                upload_file(self._blobs, outputs.testing_validation, testing_spool)
                upload_json(self._blobs, outputs.summary, summary.to_json())
            except OutputNotWritable as exc:
                log.warning("writing the validation outputs failed: %s", exc)
                return FileFailure(CANNOT_WRITE_OUTPUT_MESSAGE)

        errors = summary.all_errors()
        if errors or validated is None:
            first = errors[0] if errors else ContentError(TOO_FEW_LABELS)
            return ContentFailure(first.message, outputs, summary)
        return ValidationPassed(validated, summary)

    # -- step 3: every line through the validator -----------------------------------------
    def _scan(self, source: LineSource, spool: Path, *, for_split: bool) -> ManifestTally:
        tally = ManifestTally.for_split() if for_split else ManifestTally()
        with JsonLinesWriter(spool) as out:
            for verdict in validate_lines(self._lines(source), images=self._images,
                                          error_key="errors"):
                out.write(verdict.output_line)
                tally.add(verdict)
        return tally

    # -- step 3, last: the images buckets' owners ----------------------------------------------
    def _check_owners(self, tally: ManifestTally, source: InputSource,
                      output: OutputLocation, owners: _OwnerCache) -> None:
        reference = source.bucket if isinstance(source, ManifestInput) else output.bucket
        try:
            expected = owners.get(reference)
        except InvalidS3ObjectException as exc:
            log.warning("owner of bucket %s unknown, images bucket owners not checked: %s",
                        reference, exc)
            return
        if expected is None:
            return  # a store without owners (LocalBlobStore)
        for bucket in sorted(tally.buckets - {reference}):
            try:
                owner = owners.get(bucket)
            except BlobAccessDenied:
                tally.denied_buckets.add(bucket)
                continue
            except InvalidS3ObjectException:
                continue  # no such bucket: its lines already carry ERROR_INVALID_IMAGE
            if owner != expected:
                log.info("images bucket %s is owned by %s, manifest bucket %s by %s",
                         bucket, owner, reference, expected)
                tally.foreign_owner_buckets.add(bucket)

    def _lines(self, source: LineSource) -> Iterable[str]:
        for count, line in enumerate(source.lines(), 1):
            if count % self._check_every == 0:
                self._check_stop()
            yield line

    # -- steps 4 and 6 with a test manifest ---------------------------------------------------
    def _assess(
        self, training: ManifestTally, testing: ManifestTally, use_case: str,
        outputs: ValidationOutputs,
    ) -> tuple[ManifestSummary, ValidatedInputs | None]:
        train_kind, test_kind = training.kind(use_case), testing.kind(use_case)
        summary = ManifestSummary(
            training=_report(training, use_case, len(train_kind.lines)),
            testing=_report(testing, use_case, len(test_kind.lines)),
        )
        if use_case == NOT_DETERMINED:
            _not_determined(summary)
            return summary, None
        train_facts, test_facts = _facts(training, train_kind), _facts(testing, test_kind)
        summary.training.errors += label_count_errors(train_facts, use_case)
        summary.testing.errors += label_count_errors(test_facts, use_case)
        summary.errors += overlap_errors(train_facts, test_facts)
        validated = ValidatedInputs(
            use_case=use_case,
            labels=tuple(sorted(train_kind.labels)),
            training=ValidatedManifest(outputs.training_validation, train_kind.lines,
                                       frozenset(train_kind.labels)),
            testing=ValidatedManifest(outputs.testing_validation, test_kind.lines,
                                      frozenset(test_kind.labels)),
            auto_split=False,
            outputs=outputs,
        )
        return summary, validated

    # -- steps 4-6 with an auto-split -----------------------------------------------------------
    def _assess_auto_split(
        self, training: ManifestTally, use_case: str, training_spool: Path,
        testing_spool: Path, outputs: ValidationOutputs,
    ) -> tuple[ManifestSummary, ValidatedInputs | None]:
        kind = training.kind(use_case)
        summary = ManifestSummary(
            training=_report(training, use_case, len(kind.lines)),
            testing=DatasetReport(use_case=use_case),
        )
        if use_case == NOT_DETERMINED:
            JsonLinesWriter(testing_spool).close()
            _not_determined(summary)
            return summary, None
        try:
            moved = choose_test_items(kind.split_items or [])
        except InsufficientImagesError as exc:
            log.info("auto-split refused: %s", exc)
            JsonLinesWriter(testing_spool).close()
            summary.training.errors.append(ContentError(AUTOSPLIT))
            summary.training.errors += label_count_errors(_facts(training, kind), use_case)
            return summary, None

        # Labels after the split, on each side of it (counted after the split, §2.4 #6).
        train_labels: set[str] = set()
        test_labels: set[str] = set()
        for item in kind.split_items or []:
            (test_labels if item.ident in moved else train_labels).update(item.labels)
        test_lines = self._write_split_test_set(training, moved, training_spool, testing_spool,
                                                summary.testing)
        train_facts = ManifestFacts(
            total_lines=training.total,
            invalid_lines=training.invalid,
            bucket_count=len(training.buckets),
            all_labels=frozenset(training.all_labels),
            usable_labels=frozenset(train_labels),
        )
        test_facts = ManifestFacts(len(moved), 0, 1, frozenset(test_labels),
                                   frozenset(test_labels))
        summary.training.errors += label_count_errors(train_facts, use_case)
        summary.testing.errors += label_count_errors(test_facts, use_case)
        summary.errors += overlap_errors(train_facts, test_facts)
        validated = ValidatedInputs(
            use_case=use_case,
            labels=tuple(sorted(train_labels)),
            training=ValidatedManifest(
                outputs.training_validation,
                array("I", (n for n in kind.lines if n not in moved)),
                frozenset(train_labels),
            ),
            testing=ValidatedManifest(outputs.testing_validation, test_lines,
                                      frozenset(test_labels)),
            auto_split=True,
            outputs=outputs,
        )
        return summary, validated

    def _write_split_test_set(
        self, training: ManifestTally, moved: set[int], training_spool: Path,
        testing_spool: Path, report: DatasetReport,
    ) -> array:
        """Copy the moved lines, in input order, from the training spool into the testing
        one; fill the testing report. Returns the test set's line numbers (1..n)."""
        error_lines = array("I")
        written = 0
        with training_spool.open(encoding="utf-8") as source, \
                JsonLinesWriter(testing_spool) as out:
            for number, line in enumerate(source, 1):
                if number not in moved:
                    continue
                out.write(line)
                written += 1
                if _contains(training.error_lines, number):
                    error_lines.append(written)
        report.total_json_lines = report.valid_json_lines = written
        report.error_json_line_indices = error_lines
        return array("I", range(1, written + 1))


class _OwnerCache:
    """Bucket owners read once per validation (both manifests usually share buckets); an
    error is remembered too."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._known: dict[str, str | InvalidS3ObjectException | None] = {}

    def get(self, bucket: str) -> str | None:
        if bucket not in self._known:
            try:
                self._known[bucket] = bucket_owner(self._blobs, bucket)
            except InvalidS3ObjectException as exc:
                self._known[bucket] = exc
        found = self._known[bucket]
        if isinstance(found, InvalidS3ObjectException):
            raise found
        return found


def _not_determined(summary: ManifestSummary) -> None:
    """No valid line of either kind: the labels cannot be counted for a model type. The
    invalid-rows error says why when it applies; otherwise there are too few labels."""
    if not summary.training.errors:
        summary.training.errors.append(ContentError(TOO_FEW_LABELS))
