"""CSV -> image-level classification manifest (datasets.md §5.3), single- or multi-label.

The CSV has no header; each row is `image,label[,label...]`, read with `,` as the
delimiter and `|` as the quote character (the reference tool's dialect). Column 1 is a bare
file name or a full `s3://` path; `s3_path`, when given, is prepended to it **verbatim**
(so it should end with `/`). Blank rows are skipped.

The duplicate check comes first, keyed on column 1: when an image appears more than once,
`<name>-deduplicated.csv` (the first row of each image) and `<name>-duplicates.csv` (the
later rows) are written beside the CSV and the conversion stops with
DuplicateImagesError, without a manifest. Otherwise both helper files are deleted (a
leftover pair from an earlier run would be stale) and the manifest is written, by default
to `<name>.manifest` beside the CSV.

Per row: `source-ref`, then for each non-empty label an attribute named after the label
with value 1 and its `-metadata` (confidence 1, job-name `labeling-job/<label>`,
class-name, human-annotated `yes`, creation-date, type image-classification).

Choices where the reference tool is silent or would crash:
* cells are stripped of surrounding spaces (`a.jpg, cat` labels `cat`, not ` cat`);
* one creation-date, the conversion time in UTC with microseconds, for the whole file;
* a row with an image but no label is written with only its source-ref (an unlabelled
  image, which the service accepts with WARNING_UNANNOTATED_RECORD);
* a row whose source-ref would not be `s3://bucket/key`, that mixes an s3:// column 1
  with `s3_path`, or whose label would collide with the line's own keys, is an error
  naming the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.converters.conversion_errors import ConversionError
from labelgate.converters.manifest_lines import (
    MICROSECONDS_FORMAT,
    ManifestWriter,
    as_utc_naive,
    check_source_ref,
    classification_attributes,
    counted,
    parse_s3_uri,
    utc_now,
)

DELIMITER = ","
QUOTECHAR = "|"


@dataclass(frozen=True)
class CsvFiles:
    """The files one conversion reads and writes, named after the CSV."""

    csv: Path
    manifest: Path
    deduplicated: Path
    duplicates: Path

    @classmethod
    def for_csv(cls, csv_path: str | os.PathLike[str],
                manifest: str | os.PathLike[str] | None = None) -> CsvFiles:
        path = Path(csv_path)
        stem = os.path.splitext(path)[0]  # beside the CSV, as the reference tool names them
        return cls(path, Path(manifest) if manifest is not None else Path(f"{stem}.manifest"),
                   Path(f"{stem}-deduplicated.csv"), Path(f"{stem}-duplicates.csv"))


@dataclass(frozen=True)
class CsvRow:
    number: int  # 1-based line number in the file, for messages
    cells: tuple[str, ...]  # as read, for the helper files

    @property
    def image(self) -> str:
        return self.cells[0].strip()

    @property
    def labels(self) -> list[str]:
        return [cell.strip() for cell in self.cells[1:] if cell.strip()]


class DuplicateImagesError(ConversionError):
    """The CSV names an image more than once; the helper files were written, no manifest."""

    def __init__(self, files: CsvFiles, duplicates: int) -> None:
        self.files = files
        self.duplicates = duplicates
        super().__init__(
            f"{counted(duplicates, 'duplicate image row')} in {files.csv}: wrote "
            f"{files.deduplicated} "
            f"(the first row of each image) and {files.duplicates} (the later rows); no "
            f"manifest was written. Fix the labels in {files.deduplicated} and convert it.")


@dataclass
class CsvSummary:
    images: int = 0
    unlabelled_images: int = 0
    label_assignments: int = 0  # what the reference tool reports as "Labels"
    labels: Counter[str] = field(default_factory=Counter)  # images per label
    s3_path_without_slash: bool = False

    def describe(self) -> list[str]:
        lines = [f"{counted(self.images, 'image')} ({self.unlabelled_images} without labels), "
                 f"{counted(len(self.labels), 'label')}, "
                 f"{counted(self.label_assignments, 'label assignment')}"]
        if self.s3_path_without_slash:
            lines.append("note: the S3 path does not end with '/' and was prepended verbatim")
        return lines


def read_csv_rows(path: str | os.PathLike[str]) -> list[CsvRow]:
    """The non-blank rows of the CSV; ConversionError when it cannot be read."""
    rows: list[CsvRow] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=DELIMITER, quotechar=QUOTECHAR)
            try:
                for cells in reader:
                    if "".join(cells).strip():
                        rows.append(CsvRow(reader.line_num, tuple(cells)))
            except csv.Error as e:
                raise ConversionError(f"{os.fspath(path)} line {reader.line_num}: {e}") from None
    except OSError as e:
        raise ConversionError(f"cannot read {os.fspath(path)}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConversionError(f"{os.fspath(path)}: not UTF-8 text ({e.reason})") from None
    return rows


def _write_csv(path: Path, rows: Iterable[CsvRow]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=DELIMITER, quotechar=QUOTECHAR,
                            lineterminator="\n")
        writer.writerows(row.cells for row in rows)


def check_duplicates(rows: list[CsvRow], files: CsvFiles) -> None:
    """Spec 01 §5.3's duplicate check: DuplicateImagesError after writing the two helper
    files, or delete them when every image is named once."""
    first: list[CsvRow] = []
    later: list[CsvRow] = []
    seen: set[str] = set()
    for row in rows:
        (later if row.image in seen else first).append(row)
        seen.add(row.image)
    if later:
        _write_csv(files.deduplicated, first)
        _write_csv(files.duplicates, later)
        raise DuplicateImagesError(files, len(later))
    files.deduplicated.unlink(missing_ok=True)
    files.duplicates.unlink(missing_ok=True)


def _source_ref(row: CsvRow, s3_path: str) -> str:
    what = f"row {row.number}"
    if not row.image:
        raise ConversionError(f"{what}: column 1 (the image) is empty")
    if s3_path and row.image.startswith("s3://"):
        raise ConversionError(f"{what}: column 1 is already an s3:// path; do not mix S3 "
                              "paths with an S3 path prefix")
    if not s3_path and not row.image.startswith("s3://"):
        raise ConversionError(f"{what}: {row.image!r} is not an s3:// path; give the S3 "
                              "path prefix of the images (--s3-path)")
    return check_source_ref(s3_path + row.image, what=what)


def csv_manifest_lines(rows: Iterable[CsvRow], s3_path: str, created: str,
                       summary: CsvSummary) -> Iterator[dict[str, Any]]:
    for row in rows:
        line: dict[str, Any] = {"source-ref": _source_ref(row, s3_path)}
        labels = row.labels
        line.update(classification_attributes(labels, created, what=f"row {row.number}"))
        summary.images += 1
        summary.label_assignments += len(labels)
        summary.unlabelled_images += not labels
        summary.labels.update(set(labels))
        yield line


def convert_csv(csv_path: str | os.PathLike[str], *, s3_path: str | None = None,
                output: str | os.PathLike[str] | None = None,
                now: dt.datetime | None = None) -> CsvSummary:
    """Convert a CSV to a classification manifest (default `<name>.manifest` beside it).

    Raises DuplicateImagesError (a ConversionError) when the duplicate check fails.
    """
    files = CsvFiles.for_csv(csv_path, output)
    if s3_path:
        parse_s3_uri(s3_path, what="S3 path")
    rows = read_csv_rows(files.csv)
    check_duplicates(rows, files)
    created = as_utc_naive(now or utc_now()).strftime(MICROSECONDS_FORMAT)
    summary = CsvSummary(s3_path_without_slash=bool(s3_path) and not s3_path.endswith("/"))
    with ManifestWriter(files.manifest, empty_message=f"{files.csv} has no rows") as writer:
        for line in csv_manifest_lines(rows, s3_path or "", created, summary):
            writer.write(line)
    return summary
