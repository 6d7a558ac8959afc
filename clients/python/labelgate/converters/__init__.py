"""Converters to and from the Custom Labels manifest format (datasets.md §3.1, §4, §5).

Each writes a valid manifest (one JSON object per line) through `ManifestWriter`, which
publishes the file only once the whole input converted, and returns a summary of counts:

* `convert_coco`: COCO instances JSON -> bounding-box manifest (§5.1);
* `convert_csv`: CSV `image,label,...` -> classification manifest, duplicate check first
  (§5.3);
* `convert_sagemaker_multilabel`: Ground Truth multi-label -> one attribute per label (§5.2);
* `convert_folders`: a folder-per-label tree, local or on S3 -> classification manifest
  (§3.1);
* `export_manifest_file` / `export_dataset`: a manifest file or a live dataset -> COCO.

Bad input raises `ConversionError` with a one-line message naming the place; nothing here
imports server code. The same conversions are the `labelgate convert ...` and
`labelgate export-coco` commands.
"""

from labelgate.converters.coco import CocoOptions, CocoSummary, convert_coco, read_coco
from labelgate.converters.coco_export import (
    CocoExportOptions,
    CocoExportSummary,
    export_dataset,
    export_manifest_file,
    manifest_to_coco,
)
from labelgate.converters.conversion_errors import ConversionError, SourceAccessError
from labelgate.converters.csv_manifest import CsvSummary, DuplicateImagesError, convert_csv
from labelgate.converters.folders import FolderSummary, convert_folders
from labelgate.converters.manifest_lines import ManifestWriter, manifest_line
from labelgate.converters.sagemaker_multilabel import (
    MultilabelSummary,
    convert_sagemaker_multilabel,
)

__all__ = [
    "CocoExportOptions",
    "CocoExportSummary",
    "CocoOptions",
    "CocoSummary",
    "ConversionError",
    "CsvSummary",
    "DuplicateImagesError",
    "FolderSummary",
    "ManifestWriter",
    "MultilabelSummary",
    "SourceAccessError",
    "convert_coco",
    "convert_csv",
    "convert_folders",
    "convert_sagemaker_multilabel",
    "export_dataset",
    "export_manifest_file",
    "manifest_line",
    "manifest_to_coco",
    "read_coco",
]
