"""Small COCO documents the converter tests share (made here, never read from disk)."""

from __future__ import annotations

from typing import Any


def coco(images: list[dict[str, Any]], annotations: list[dict[str, Any]],
         categories: list[dict[str, Any]]) -> dict[str, Any]:
    return {"info": {}, "licenses": [], "images": images, "annotations": annotations,
            "categories": categories}


def shelf() -> dict[str, Any]:
    """A small detection set: three images, three categories (one unused), one image
    without boxes, boxes listed out of image order, float coordinates."""
    return coco(
        images=[
            {"id": 1, "file_name": "a.jpg", "width": 640, "height": 480,
             "date_captured": "2020-01-01 00:00:00"},
            {"id": 2, "file_name": "sub/b.jpg", "width": 1024, "height": 768,
             "date_captured": "2020-01-02 10:11:12"},
            {"id": 3, "file_name": "c.jpg", "width": 300, "height": 200,
             "date_captured": "2020-01-03 00:00:00"},
        ],
        annotations=[
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [1, 2, 30, 40]},
            {"id": 11, "image_id": 2, "category_id": 9, "bbox": [100.25, 50.5, 60, 70.75]},
            {"id": 12, "image_id": 1, "category_id": 9, "bbox": [300, 200, 50, 60]},
            {"id": 13, "image_id": 2, "category_id": 9, "bbox": [5, 5, 10, 10]},
        ],
        categories=[{"id": 3, "name": "capacitor", "supercategory": "part"},
                    {"id": 9, "name": "led"}, {"id": 4, "name": "unused"}],
    )
