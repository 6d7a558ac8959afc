"""The evaluation report: PNG charts, example images and one self-contained HTML page."""

from PIL import Image

from labelgate.backends.local.inference.records import CLASSIFICATION, DETECTION, MULTILABEL
from labelgate.backends.local.training.evaluation import evaluate, render_report
from labelgate.backends.local.training.evaluation.report import MAX_EXAMPLES
from tests.evaluation.builders import box, box_example, det, detected, image_example, scored

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_image(path, size=48, color=(120, 60, 200)):
    Image.new("RGB", (size, size), color).save(path)
    return path


def assert_valid_report(files, out_dir):
    index = files[0]
    assert index == out_dir / "index.html"
    page = index.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for header in ("Label", "F1 score", "Test images", "Precision", "Recall",
                   "Assumed threshold"):
        assert f"<th>{header}</th>" in page
    pngs = files[1:]
    assert pngs and all(p.exists() and p.read_bytes()[:8] == PNG_SIGNATURE for p in pngs)
    for p in pngs:
        with Image.open(p) as image:
            image.verify()
    assert page.count("data:image/png;base64,") == len(pngs)  # self-contained
    return page


def test_classification_report(tmp_path):
    labels = ("cat", "dog", "fox")
    examples, predictions = [], []
    for i in range(30):
        truth = labels[i % 3]
        path = write_image(tmp_path / f"img{i}.png", color=(i * 8, 100, 50))
        example = image_example(i, [truth], path=path)
        guess = truth if i % 4 else labels[(i + 1) % 3]
        examples.append(example)
        predictions.append(scored(example, {k: 0.8 if k == guess else 0.1 for k in labels}))
    evaluation = evaluate(CLASSIFICATION, labels, examples, predictions)
    out = tmp_path / "report"
    files = render_report(evaluation, out, title="pets <v1>")
    page = assert_valid_report(files, out)
    assert (out / "confusion_matrix.png") in files and (out / "precision_recall.png") in files
    examples_drawn = sorted((out / "examples").glob("*.png"))
    assert len(examples_drawn) == MAX_EXAMPLES
    assert "pets &lt;v1&gt;" in page and "Confusion matrix" in page


def test_detection_report_draws_boxes(tmp_path):
    examples, predictions = [], []
    for i in range(5):
        path = write_image(tmp_path / f"img{i}.jpg", size=64, color=(0, 0, 0))
        example = box_example(i, [box("nut", 8, 8, 20, 20)], path=path, size=64)
        examples.append(example)
        predictions.append(detected(example, [det("nut", 0.9, 9, 9, 20, 20),
                                              det("bolt", 0.7, 40, 40, 16, 16)]))
    evaluation = evaluate(DETECTION, ("bolt", "nut"), examples, predictions)
    out = tmp_path / "report"
    files = render_report(evaluation, out, title="pcb")
    page = assert_valid_report(files, out)
    assert not (out / "confusion_matrix.png").exists()
    assert "mAP@0.5" in page and "bolt" in page  # bolt: listed as not measured
    drawn = sorted((out / "examples").glob("*.png"))
    assert len(drawn) == 5
    with Image.open(drawn[0]) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert len(colors) > 2  # something was drawn on the black image


def test_report_survives_unreadable_images_and_multilabel(tmp_path):
    examples = [image_example(i, [("a", "b")[i % 2]]) for i in range(4)]  # no image files
    predictions = [scored(e, {"a": 0.6, "b": 0.4}) for e in examples]
    evaluation = evaluate(MULTILABEL, ("a", "b"), examples, predictions)
    out = tmp_path / "report"
    files = render_report(evaluation, out, title="t")
    assert_valid_report(files, out)
    assert not (out / "confusion_matrix.png").exists()
