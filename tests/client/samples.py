"""Small, valid inputs shared by the client and CLI end-to-end tests."""

import json


def classification_manifest(n: int = 6) -> bytes:
    """A valid Ground Truth image-classification manifest, labels alternating cat/dog.

    The local backend reads source-refs as text; no image has to exist for a dataset."""
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
