"""Importing a 250,000-line manifest: throughput, peak memory, and paging through it.

Measured: `CreateDataset` from a Ground Truth manifest of LINES lines (one tiny PNG per
line, all in the gateway's local blob store, so every image is really probed), run by a
`labelgate.server` subprocess; its peak RSS (VmHWM) is read from /proc. The import is run
at two sizes to show memory does not grow with the line count. Then ListDatasetEntries
pages through the whole dataset, 100 entries a call.

Baseline, same run: a subprocess that only reads the same file line by line and
`json.loads` each line.

    .venv/bin/python -m bench manifest_import            # 250,000 lines
    LABELGATE_BENCH_LINES=20000 .venv/bin/python -m bench manifest_import
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.gateway_process import gateway_process, peak_rss_mb
from labelgate.client import Client

LINES = int(os.environ.get("LABELGATE_BENCH_LINES", "250000"))
BUCKET = "bench"
LABELS = [f"label{i:02d}" for i in range(20)]


def _tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 140, 200)).save(buf, format="PNG")
    return buf.getvalue()


def write_dataset(root: Path, lines: int) -> Path:
    """A manifest of `lines` classification lines and one PNG per line under root/s3/."""
    images = root / "s3" / BUCKET / "images"
    images.mkdir(parents=True, exist_ok=True)
    png = _tiny_png()
    manifest = root / "s3" / BUCKET / f"train-{lines}.manifest"
    with manifest.open("w") as out:
        for i in range(lines):
            name = f"{i:07d}.png"
            path = images / name
            if not path.exists():
                path.write_bytes(png)
            out.write(json.dumps({
                "source-ref": f"s3://{BUCKET}/images/{name}", "cls": 1,
                "cls-metadata": {"confidence": 1, "class-name": LABELS[i % len(LABELS)],
                                 "human-annotated": "yes",
                                 "creation-date": "2024-01-01T00:00:00",
                                 "type": "groundtruth/image-classification"},
            }, separators=(",", ":")) + "\n")
    return manifest


BASELINE = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter(); n = 0
    with open(sys.argv[1], "rb") as f:
        for line in f:
            json.loads(line); n += 1
    took = time.perf_counter() - start
    for row in open("/proc/self/status"):
        if row.startswith("VmHWM:"):
            print(n, took, int(row.split()[1]) / 1024)
""")


def baseline(manifest: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", BASELINE, str(manifest)], check=True,
                         capture_output=True, text=True).stdout.split()
    n, took, rss = int(out[0]), float(out[1]), float(out[2])
    return n / took, rss


def import_once(data_dir: Path, manifest: Path, lines: int) -> tuple[float, float, float, int]:
    """(lines/s, gateway peak RSS MB before import, after import, entries) for one import."""
    with gateway_process(data_dir) as gateway, Client(gateway.address) as client:
        project = client.create_project(project_name=f"bench-{lines}").project_arn
        rss_idle = peak_rss_mb(gateway.pid)
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Name": manifest.name}}}
        start = time.perf_counter()
        arn = client.create_dataset(project_arn=project, dataset_type="TRAIN",
                                    dataset_source=source).dataset_arn
        client.wait_dataset_created(arn, delay=0.25, max_attempts=20_000)
        took = time.perf_counter() - start
        stats = client.describe_dataset(dataset_arn=arn).dataset_description.dataset_stats
        rss_done = peak_rss_mb(gateway.pid)

        page_start, pages, seen, token = time.perf_counter(), 0, 0, ""
        while True:
            page = client.list_dataset_entries(dataset_arn=arn, max_results=100,
                                               next_token=token)
            pages += 1
            seen += len(page.dataset_entries)
            if not page.HasField("next_token"):
                break
            token = page.next_token
        paging = time.perf_counter() - page_start
        print(f"  paged {seen} entries in {pages} calls: {paging:.1f} s "
              f"({paging / pages * 1e3:.2f} ms/page)")
        return lines / took, rss_idle, rss_done, stats.total_entries


def main() -> None:
    small = max(LINES // 10, 1000)
    with tempfile.TemporaryDirectory(prefix="labelgate-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        manifests = {}
        for n in (small, LINES):
            manifests[n] = write_dataset(root, n)
        print(f"manifest_import: generated {LINES} images + manifests in "
              f"{time.perf_counter() - t0:.0f} s ({manifests[LINES].stat().st_size / 1e6:.0f} MB)")
        base_rate, base_rss = baseline(manifests[LINES])
        results = {}
        for n in (small, LINES):
            print(f" import of {n} lines:")
            results[n] = import_once(root, manifests[n], n)
        rate, idle, done, entries = results[LINES]
        s_done = results[small][2]
        print(f"{'':34s} {'lines/s':>10s} {'peak RSS':>10s}")
        print(f"{'baseline json.loads only':34s} {base_rate:10.0f} {base_rss:8.0f}MB")
        print(f"{'CreateDataset import + validation':34s} {rate:10.0f} {done:8.0f}MB  "
              f"({entries} entries)")
        print(f"ratio import/baseline: {rate / base_rate:.3f}x throughput, "
              f"{done / base_rss:.1f}x peak RSS")
        print(f"gateway peak RSS: idle {idle:.0f} MB; after {small} lines {s_done:.0f} MB; "
              f"after {LINES} lines {done:.0f} MB")


if __name__ == "__main__":
    main()
