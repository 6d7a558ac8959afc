"""SageMaker Ground Truth multi-label manifest -> Custom Labels manifest (datasets.md §5.2).

A Ground Truth multi-label line has one attribute, named after the labelling job, whose
value is a list of class ids; its `-metadata` holds `class-map` and `confidence-map` (id
string -> name / confidence). Custom Labels rejects that type, so each class becomes its
own image-level attribute (datasets.md §4.3), as the reference script does:

* the job attribute is the key that contains neither `source-ref` nor `-metadata`; when
  there are several, the last one wins;
* `source-ref` is copied unchanged;
* the class at position `i` of the list becomes `"<job><i>": i` plus `<job><i>-metadata`
  with `confidence` (from confidence-map), `job-name`, `class-name` (from class-map),
  `human-annotated`, `creation-date` (copied) and `type: groundtruth/image-classification`.

The file is read and written one line at a time, so its size does not matter. Blank lines
are skipped. A line the reference script would crash on (not JSON, no job attribute, a
class id missing from class-map or confidence-map) is a ConversionError naming the line;
a line whose list is empty is written with only its source-ref (an unlabelled image).
The default output, as the reference script names it, is `custom_labels_<input name>` in
the current directory.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labelgate.converters.conversion_errors import ConversionError
from labelgate.converters.manifest_lines import (
    CLASSIFICATION_TYPE,
    ManifestWriter,
    check_label_name,
    check_source_ref,
    counted,
    parse_json_object,
    read_text_lines,
)


@dataclass
class MultilabelSummary:
    images: int = 0
    unlabelled_images: int = 0
    blank_lines: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # attributes per label

    def describe(self) -> list[str]:
        lines = [f"{counted(self.images, 'image')} ({self.unlabelled_images} without labels), "
                 f"{counted(len(self.labels), 'label')}"]
        if self.blank_lines:
            lines.append(f"skipped {counted(self.blank_lines, 'blank line')}")
        return lines


def default_output(input_path: str | os.PathLike[str]) -> Path:
    """`custom_labels_<input file name>`, in the current directory (the reference script's)."""
    return Path(f"custom_labels_{Path(input_path).name}")


def job_attribute(line: dict[str, Any]) -> str | None:
    """The multi-label attribute, chosen as the reference script does (substring tests,
    last match wins)."""
    found = None
    for key in line:
        if "source-ref" not in key and "-metadata" not in key:
            found = key
    return found


def _require(mapping: Any, key: str, what: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ConversionError(f"{what}: no {key!r}")
    return mapping[key]


def convert_line(line: dict[str, Any], *, what: str) -> dict[str, Any]:
    """One Ground Truth multi-label line (parsed) -> one Custom Labels line."""
    if "source-ref" not in line:
        raise ConversionError(f"{what}: no 'source-ref'")
    source_ref = check_source_ref(line["source-ref"], what=f"{what} source-ref")
    job = job_attribute(line)
    if job is None:
        raise ConversionError(f"{what}: no label attribute (a key other than source-ref "
                              "without -metadata)")
    class_ids = line[job]
    if not isinstance(class_ids, list):
        raise ConversionError(f"{what}: {job!r} is not a list of class ids, so this is not "
                              "a multi-label line (already converted?)")
    metadata = _require(line, f"{job}-metadata", what)
    class_map = _require(metadata, "class-map", f"{what} {job}-metadata")
    confidence_map = _require(metadata, "confidence-map", f"{what} {job}-metadata")
    copied = {key: _require(metadata, key, f"{what} {job}-metadata")
              for key in ("human-annotated", "creation-date")}
    out: dict[str, Any] = {"source-ref": source_ref}
    for index, class_id in enumerate(class_ids):
        name = _require(class_map, str(class_id), f"{what} {job}-metadata class-map")
        check_label_name(name, what=f"{what} {job}-metadata class-map {str(class_id)!r}")
        confidence = _require(confidence_map, str(class_id),
                              f"{what} {job}-metadata confidence-map")
        attribute = f"{job}{index}"
        item: dict[str, Any] = {"confidence": confidence}
        if "job-name" in metadata:  # optional for classification (datasets.md §4.2)
            item["job-name"] = metadata["job-name"]
        item.update({"class-name": name, "human-annotated": copied["human-annotated"],
                     "creation-date": copied["creation-date"], "type": CLASSIFICATION_TYPE})
        out[attribute] = index
        out[f"{attribute}-metadata"] = item
    return out


def multilabel_manifest_lines(lines: Iterable[tuple[int, str]], summary: MultilabelSummary,
                              *, source: str = "input") -> Iterator[dict[str, Any]]:
    """Convert (line number, text) pairs; blank lines are counted and skipped."""
    for number, text in lines:
        what = f"{source} line {number}"
        if not text.strip():
            summary.blank_lines += 1
            continue
        converted = convert_line(parse_json_object(text, what=what), what=what)
        names = [v["class-name"] for k, v in converted.items() if k.endswith("-metadata")]
        summary.images += 1
        summary.unlabelled_images += not names
        summary.labels.update(names)
        yield converted


def convert_sagemaker_multilabel(input_path: str | os.PathLike[str],
                                 output: str | os.PathLike[str] | None = None
                                 ) -> MultilabelSummary:
    """Convert a Ground Truth multi-label output manifest, streaming; see the module doc."""
    summary = MultilabelSummary()
    target = default_output(input_path) if output is None else output
    source = os.fspath(input_path)
    with ManifestWriter(target, empty_message=f"{source} has no lines") as writer:
        for line in multilabel_manifest_lines(read_text_lines(input_path), summary,
                                              source=source):
            writer.write(line)
    return summary
