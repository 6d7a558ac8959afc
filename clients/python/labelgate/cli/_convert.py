"""`labelgate convert FORMAT ...` and `labelgate export-coco ...`: the converters of
`labelgate.converters` on the command line.

    labelgate convert coco --input instances.json --s3-prefix s3://bucket/images/ \
        --output train.manifest
    labelgate convert csv images.csv --s3-path s3://bucket/images/
    labelgate convert sagemaker-multilabel --input output.manifest
    labelgate convert folders --input ./fruit --s3-prefix s3://bucket/fruit/ --output f.manifest
    labelgate convert folders --input s3://bucket/fruit/ --endpoint-url http://minio:9000 \
        --output f.manifest
    labelgate export-coco --dataset-arn ARN --output coco.json
    labelgate export-coco --manifest train.manifest --output coco.json

They run locally; only `export-coco --dataset-arn` talks to the gateway (the global
`--endpoint`). Counts go to stderr, the paths of the files written to stdout. Bad input is one
line on stderr and exit 252, like any bad parameter; an S3 location that cannot be listed
is exit 255, like any other failure outside the command line.

These commands take `--output FILE`, so the global `--output json|text` is accepted only
before the command name (`labelgate --output text convert ...`), where it has no effect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from labelgate import converters
from labelgate.cli._params import ParamError
from labelgate.converters import ConversionError, SourceAccessError
from labelgate.converters.csv_manifest import CsvFiles
from labelgate.converters.sagemaker_multilabel import default_output

#: The `action` these commands set; `run_convert` runs them.
ACTION = "convert"

#: A command's body: (client, parsed args) -> (paths written, summary lines).
Runner = Callable[[Any, argparse.Namespace], tuple[list[str], list[str]]]


def _global_options(parser: argparse.ArgumentParser, *, gateway: bool) -> None:
    # The root parser holds the real defaults; here they are SUPPRESSed so a value given
    # before the command survives (as in `_parser._global_options`). `--output` is left out:
    # on these commands it names the file to write.
    group = parser.add_argument_group("global options")
    if gateway:
        group.add_argument("--endpoint", "--endpoint-url", dest="endpoint", metavar="HOST:PORT",
                           default=argparse.SUPPRESS,
                           help="gateway address (env LABELGATE_ENDPOINT)")
        group.add_argument("--cli-read-timeout", type=float, default=argparse.SUPPRESS,
                           metavar="SECONDS", help="deadline of each call; 0 waits forever")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="print tracebacks")


def _command(subparsers: Any, name: str, run: Runner, help_text: str, *,
             gateway: bool = False) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(action=ACTION, convert_command=run)
    _global_options(parser, gateway=gateway)
    return parser


# -- the commands -------------------------------------------------------------------------------


def _coco(_: Any, ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    options = converters.CocoOptions(s3_prefix=ns.s3_prefix, attribute=ns.attribute,
                                     job_name=ns.job_name)
    summary = converters.convert_coco(ns.input, ns.output_path, options)
    return [ns.output_path], summary.describe()


def _csv(_: Any, ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    files = CsvFiles.for_csv(ns.csv_file, ns.output_path)
    summary = converters.convert_csv(ns.csv_file, s3_path=ns.s3_path, output=files.manifest)
    return [str(files.manifest)], summary.describe()


def _sagemaker(_: Any, ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    output = ns.output_path or str(default_output(ns.input))
    summary = converters.convert_sagemaker_multilabel(ns.input, output)
    return [output], summary.describe()


def _folders(_: Any, ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    summary = converters.convert_folders(ns.input, ns.output_path, s3_prefix=ns.s3_prefix,
                                         endpoint_url=ns.s3_endpoint_url)
    return [ns.output_path], summary.describe()


def _export_coco(client: Any, ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    options = converters.CocoExportOptions(s3_prefix=ns.s3_prefix)
    if ns.dataset_arn is not None:
        summary = converters.export_dataset(client, ns.dataset_arn, ns.output_path, options)
    else:
        summary = converters.export_manifest_file(ns.manifest, ns.output_path, options)
    return [ns.output_path], summary.describe()


def add_convert_commands(subparsers: Any) -> None:
    """Register `convert` (with one subcommand per format) and `export-coco`."""
    convert = subparsers.add_parser(
        "convert", help="Convert labels (COCO, CSV, Ground Truth multi-label, folders) to a "
                        "Custom Labels manifest, locally.",
        description="Write a Custom Labels manifest (JSON Lines) from another labelling "
                    "format. Runs locally; nothing is sent to the gateway.")
    formats = convert.add_subparsers(dest="converter", metavar="FORMAT", required=True)

    coco = _command(formats, "coco", _coco,
                    "COCO instances JSON -> bounding-box manifest (one line per image).")
    coco.add_argument("--input", required=True, metavar="PATH", help="COCO instances JSON")
    coco.add_argument("--s3-prefix", metavar="s3://BUCKET/PREFIX/",
                      help="joined with file_name for images whose coco_url is not s3://")
    coco.add_argument("--output", dest="output_path", required=True, metavar="PATH",
                      help="the manifest to write")
    coco.add_argument("--attribute", default="bounding-box",
                      help="label attribute name (default bounding-box)")
    coco.add_argument("--job-name", help="job-name in the metadata "
                                         "(default labeling-job/ATTRIBUTE)")

    csv = _command(formats, "csv", _csv,
                   "CSV (image,label[,label...], no header) -> classification manifest. "
                   "Stops with -deduplicated.csv / -duplicates.csv when an image repeats.")
    csv.add_argument("csv_file", metavar="CSV_FILE")
    csv.add_argument("--s3-path", "--s3_path", dest="s3_path", metavar="s3://BUCKET/FOLDER/",
                     help="prepended verbatim to column 1 (end it with /)")
    csv.add_argument("--output", dest="output_path", metavar="PATH",
                     help="the manifest to write (default CSV_FILE with .manifest)")

    sagemaker = _command(formats, "sagemaker-multilabel", _sagemaker,
                         "Ground Truth multi-label manifest -> one image-level attribute per "
                         "label.")
    sagemaker.add_argument("--input", required=True, metavar="PATH",
                           help="Ground Truth output.manifest")
    sagemaker.add_argument("--output", dest="output_path", metavar="PATH",
                           help="the manifest to write (default ./custom_labels_INPUTNAME)")

    folders = _command(formats, "folders", _folders,
                       "Folder-per-label image tree (local or S3) -> classification "
                       "manifest; the first-level folder name is the label.")
    folders.add_argument("--input", required=True, metavar="DIR|s3://BUCKET/PREFIX/",
                         help="a local directory or an S3 location")
    folders.add_argument("--s3-prefix", metavar="s3://BUCKET/PREFIX/",
                         help="for a local directory: where the tree is (or will be) "
                              "uploaded; source-ref = prefix + relative path")
    folders.add_argument("--endpoint-url", "--s3-endpoint-url", dest="s3_endpoint_url",
                         metavar="URL", help="S3-compatible endpoint for an s3:// input "
                                             "(not the labelgate gateway)")
    folders.add_argument("--output", dest="output_path", required=True, metavar="PATH",
                         help="the manifest to write")

    export = _command(subparsers, "export-coco", _export_coco,
                      "Export a dataset (live, or a manifest file) to COCO instances JSON. "
                      "Bounding boxes only; image-level labels are skipped and counted.",
                      gateway=True)
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset-arn", metavar="ARN",
                        help="a dataset of the gateway (ListDatasetEntries, every page)")
    source.add_argument("--manifest", metavar="PATH", help="a local manifest file")
    export.add_argument("--output", dest="output_path", required=True, metavar="PATH",
                        help="the COCO JSON to write")
    export.add_argument("--s3-prefix", metavar="s3://BUCKET/PREFIX/",
                        help="file_name = source-ref relative to this prefix "
                             "(default: the object key)")


def run_convert(client: Any, ns: argparse.Namespace) -> None:
    """Run a parsed convert / export-coco command: summary to stderr, paths to stdout."""
    name = " ".join(filter(None, ("labelgate", ns.command_name,
                                  getattr(ns, "converter", None))))
    try:
        written, summary = ns.convert_command(client, ns)
    except SourceAccessError:
        raise  # not the command line's fault: exit 255 with the message
    except ConversionError as e:
        raise ParamError(f"{name}: error: {e}") from None
    for line in summary:
        print(f"{name}: {line}", file=sys.stderr)
    for path in written:
        print(path)
