"""Small, valid inputs shared by the client and CLI end-to-end tests."""

import io
import json
from pathlib import Path


def classification_manifest(n: int = 6) -> bytes:
    """A valid Ground Truth image-classification manifest, labels alternating cat/dog.

    Datasets validate their images: put them first with `put_sample_images`."""
    lines = []
    for i in range(n):
        label = ("cat", "dog")[i % 2]
        lines.append(json.dumps({
            "source-ref": f"s3://e2e-bucket/images/{label}_{i}.jpg",
            "animal": i % 2,
            "animal-metadata": {
                "confidence": 1, "job-name": "labeling-job/animal", "class-name": label,
                "human-annotated": "yes", "creation-date": "2024-01-01T00:00:00",
                "type": "groundtruth/image-classification"},
        }))
    return ("\n".join(lines) + "\n").encode()


def tiny_png() -> bytes:
    """A valid 64x64 PNG, the smallest image the image checks accept."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (40, 110, 170)).save(buffer, format="PNG")
    return buffer.getvalue()


def put_sample_images(data_dir: Path, manifest: bytes) -> None:
    """An image in the gateway's local blob store for every source-ref of `manifest`."""
    image = tiny_png()
    for line in manifest.decode().splitlines():
        bucket, key = json.loads(line)["source-ref"].removeprefix("s3://").split("/", 1)
        path = Path(data_dir) / "s3" / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image)
