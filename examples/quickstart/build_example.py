"""Rebuild examples/quickstart from the clothing10 photos (CC0 1.0): images/ and train.manifest.

Picks PER_LABEL photos of each label at random (fixed seed) from all of clothing10's splits,
downscales each to a shorter side of SHORT_SIDE px (Lanczos, aspect kept), writes it as
images/<label>_<nn>.jpg (JPEG quality QUALITY) and one SageMaker Ground Truth
image-classification line per image to train.manifest (shuffled, source-ref
s3://quickstart/images/<file>). SOURCES.csv names the clothing10 file each image came from.

    .venv/bin/python examples/quickstart/build_example.py --source /path/to/clothing10

clothing10 is a staged copy of github.com/alexeygrigorev/clothing-dataset-small (commit
11961516512414bf9f6c150a832cfd21b54a6b54) with manifests whose source-ref is
images/<uuid>.jpg; see README.md here.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
LABELS = ("hat", "pants", "shoes", "t-shirt")
PER_LABEL = 50
SHORT_SIDE = 160
QUALITY = 85
SEED = 14
BUCKET = "quickstart"
ATTRIBUTE = "clothing"
CREATION_DATE = "2020-11-05T21:11:03"  # the source commit's date, as clothing10 records it


def _photos(source: Path) -> dict[str, list[str]]:
    """label -> the clothing10 source-refs of that label, sorted."""
    found: dict[str, list[str]] = {label: [] for label in LABELS}
    for split in ("train", "validation", "test"):
        for line in (source / f"{split}.manifest").read_text().splitlines():
            entry = json.loads(line)
            label = entry["label-metadata"]["class-name"]
            if label in found:
                found[label].append(entry["source-ref"])
    return {label: sorted(refs) for label, refs in found.items()}


def _downscale(src: Path, dst: Path) -> None:
    with Image.open(src) as image:
        image = image.convert("RGB")
        scale = SHORT_SIDE / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        image.resize(size, Image.Resampling.LANCZOS).save(dst, "JPEG", quality=QUALITY,
                                                         optimize=True)


def _line(name: str, label: str) -> str:
    return json.dumps({
        "source-ref": f"s3://{BUCKET}/images/{name}",
        ATTRIBUTE: LABELS.index(label),
        f"{ATTRIBUTE}-metadata": {
            "confidence": 1, "job-name": f"labeling-job/{ATTRIBUTE}", "class-name": label,
            "human-annotated": "yes", "creation-date": CREATION_DATE,
            "type": "groundtruth/image-classification",
        },
    }, separators=(",", ":"))


def build(source: Path, out: Path) -> None:
    rng = random.Random(SEED)
    images = out / "images"
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir(parents=True)
    lines, sources = [], ["file,clothing10_file,label"]
    for label, refs in _photos(source).items():
        for number, ref in enumerate(sorted(rng.sample(refs, PER_LABEL))):
            name = f"{label}_{number:02d}.jpg"
            _downscale(source / ref, images / name)
            lines.append(_line(name, label))
            sources.append(f"{name},{Path(ref).name},{label}")
    rng.shuffle(lines)
    (out / "train.manifest").write_text("\n".join(lines) + "\n")
    (out / "SOURCES.csv").write_text("\n".join(sources) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="the clothing10 folder (train/validation/test.manifest, images/)")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    args = parser.parse_args(argv)
    build(args.source, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
