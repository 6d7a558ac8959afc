"""Checking what users hand in, as Rekognition Custom Labels does (docs/reference/training.md §2).

    manifests.py       Ground Truth manifest files: file checks, streaming line reader
    json_lines.py      one JSON Line validated: error codes and line verdicts
    label_checks.py    the label-attribute checks of a line
    image_probe.py     header-first, bounded checks of the images lines point at
    tally.py           per-manifest counts and label sets; the use case
    content_checks.py  the terminal content errors and manifest_summary.json
    splits.py          the deterministic 80/20 train/test split
"""
