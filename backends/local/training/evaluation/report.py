"""The evaluation report: PNG charts and example images plus one self-contained HTML page.

    out_dir/index.html              aggregates, the per-label table, every picture inline
    out_dir/confusion_matrix.png    single-label classification only
    out_dir/precision_recall.png    one panel per label, the assumed threshold marked
    out_dir/examples/example-NN.png at most MAX_EXAMPLES test images

The page embeds the PNGs as data URIs, so it can be mailed or uploaded alone; the PNG
files sit beside it for whoever wants them separately.

Example images: up to half of them show mistakes at the operating point (the ones people
look for), the rest correct results, each group in test-set order so reruns draw the same
pictures.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from labelgate.backends.local.inference.records import DETECTION, Example
from labelgate.backends.local.training.evaluation import drawing, plots
from labelgate.backends.local.training.evaluation.confusion import top1
from labelgate.backends.local.training.evaluation.evaluator import Evaluation
from labelgate.backends.local.training.evaluation.label_metrics import LabelMetrics

MAX_EXAMPLES = 12
INDEX_NAME = "index.html"
CONFUSION_NAME = "confusion_matrix.png"
CURVES_NAME = "precision_recall.png"
EXAMPLES_DIR = "examples"


# -- what to draw ----------------------------------------------------------------------------


def _detection_drawing(evaluation: Evaluation, i: int
                       ) -> tuple[list[drawing.DrawnBox], list[drawing.CaptionLine], bool]:
    example, prediction = evaluation.examples[i], evaluation.predictions[i]
    assert evaluation.box_matches is not None
    matches = evaluation.box_matches[i]
    truths = evaluation.known_boxes(example)
    found = set()
    boxes: list[drawing.DrawnBox] = []
    tp = fp = 0
    for detection, m in zip(prediction.detections, matches, strict=True):
        if detection.confidence < evaluation.per_label[detection.label].threshold:
            continue
        correct = m >= 0
        tp += correct
        fp += not correct
        if correct:
            found.add(int(m))
        boxes.append(drawing.DrawnBox(
            detection.left, detection.top, detection.width, detection.height,
            drawing.PREDICTED_RIGHT if correct else drawing.PREDICTED_WRONG,
            f"{detection.label} {detection.confidence:.2f}"))
    fn = 0
    truth_boxes = []
    for t, box in enumerate(truths):
        missed = t not in found
        fn += missed
        truth_boxes.append(drawing.DrawnBox(
            box.left, box.top, box.width, box.height,
            drawing.TRUE_MISSED if missed else drawing.TRUE_FOUND))
    caption = [
        drawing.CaptionLine(Path(example.source_ref).name),
        drawing.CaptionLine(f"TP {tp}  FP {fp}  FN {fn}",
                            drawing.TRUE_FOUND if fp == fn == 0 else drawing.PREDICTED_WRONG),
    ]
    return truth_boxes + boxes, caption, fp + fn > 0


def _image_level_drawing(evaluation: Evaluation, i: int
                         ) -> tuple[list[drawing.DrawnBox], list[drawing.CaptionLine], bool]:
    example, prediction = evaluation.examples[i], evaluation.predictions[i]
    truth = evaluation.known_labels(example)
    predicted = evaluation.predicted_labels(prediction)
    at_threshold_right = set(truth) == set(predicted)
    lines = [drawing.CaptionLine(Path(example.source_ref).name),
             drawing.CaptionLine("true: " + (", ".join(truth) or "(none)"))]
    top1_right = True
    if evaluation.confusion_matrix is not None:  # single-label: also the top-1 answer
        best = top1(prediction.scores, evaluation.labels)
        top1_right = len(truth) != 1 or best == truth[0]
        lines.append(drawing.CaptionLine(f"top-1: {best} ({prediction.scores[best]:.2f})",
                                         _verdict(top1_right)))
    shown = ", ".join(f"{label} {prediction.scores[label]:.2f}" for label in predicted)
    lines.append(drawing.CaptionLine("at threshold: " + (shown or "(none)"),
                                     _verdict(at_threshold_right)))
    return [], lines, not (top1_right and at_threshold_right)


def _verdict(right: bool) -> tuple[int, int, int]:
    return drawing.TRUE_FOUND if right else drawing.PREDICTED_WRONG


def _pick_examples(mistakes: Sequence[int], correct: Sequence[int]) -> list[int]:
    wrong = mistakes[: MAX_EXAMPLES // 2]
    right = correct[: MAX_EXAMPLES - len(wrong)]
    wrong = mistakes[: MAX_EXAMPLES - len(right)]  # few correct ones: more mistakes
    return sorted([*wrong, *right])


def render_examples(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    describe = (_detection_drawing if evaluation.task == DETECTION else _image_level_drawing)
    drawn = [describe(evaluation, i) for i in range(len(evaluation.examples))]
    mistakes = [i for i, d in enumerate(drawn) if d[2]]
    correct = [i for i, d in enumerate(drawn) if not d[2]]
    chosen = _pick_examples(mistakes, correct)
    folder = out_dir / EXAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, i in enumerate(chosen, start=1):
        example: Example = evaluation.examples[i]
        boxes, caption, _ = drawn[i]
        paths.append(drawing.render_example(example.image_path, example.width, example.height,
                                            boxes, caption, folder / f"example-{n:02d}.png"))
    return paths


# -- the page --------------------------------------------------------------------------------


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#16191f;
max-width:1200px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d5dbdb;padding-bottom:.3rem}
.sub{color:#5f6b7a}.cards{display:flex;flex-wrap:wrap;gap:1rem;margin-top:1rem}
.card{border:1px solid #d5dbdb;border-radius:8px;padding:.8rem 1.2rem;min-width:9rem}
.card .v{font-size:1.6rem;font-weight:600}.card .k{color:#5f6b7a;font-size:.85rem}
table{border-collapse:collapse;margin-top:.5rem}th,td{padding:.35rem .9rem;
border-bottom:1px solid #e9ebed;text-align:right}th{background:#f2f3f3}
td:first-child,th:first-child{text-align:left}img{max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid img{border:1px solid #d5dbdb}
.note{color:#5f6b7a;font-size:.9rem}
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _card(value: str, name: str) -> str:
    return (f'<div class="card"><div class="v">{html.escape(value)}</div>'
            f'<div class="k">{html.escape(name)}</div></div>')


def _cards(evaluation: Evaluation) -> str:
    cards = [
        _card(f"{evaluation.f1_score:.3f}", "F1 score"),
        # The console calls these two "Average precision" and "Overall recall"; in a
        # detection report that would clash with the COCO AveragePrecision below.
        _card(f"{evaluation.precision:.3f}", "Precision (mean over labels)"),
        _card(f"{evaluation.recall:.3f}", "Recall (mean over labels)"),
        _card(str(evaluation.number_of_testing_images), "Test images"),
    ]
    if evaluation.top1_accuracy is not None:
        cards.append(_card(f"{evaluation.top1_accuracy:.3f}", "Top-1 accuracy"))
    if evaluation.average_precision is not None:
        cards.append(_card(f"{evaluation.average_precision:.3f}",
                           "AveragePrecision (COCO mAP, IoU .50:.95)"))
    if evaluation.map50 is not None:
        cards.append(_card(f"{evaluation.map50:.3f}", "mAP@0.5"))
    if evaluation.average_recall is not None:
        cards.append(_card(f"{evaluation.average_recall:.3f}",
                           "AverageRecall (COCO mAR, IoU .50:.95)"))
    return '<div class="cards">' + "".join(cards) + "</div>"


def _label_table(evaluation: Evaluation) -> str:
    detection = evaluation.task == DETECTION
    head = ["Label", "F1 score", "Test images", "Precision", "Recall", "Assumed threshold"]
    if detection:
        head += ["AP@0.5", "AP .50:.95"]

    def row(m: LabelMetrics) -> str:
        cells = [html.escape(m.label), f"{m.f1:.3f}", str(m.testing_images),
                 f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.threshold:.3f}"]
        if detection:
            cells += ["—" if m.ap50 is None else f"{m.ap50:.3f}",
                      "—" if m.average_precision is None else f"{m.average_precision:.3f}"]
        return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"

    rows = [row(m) for m in evaluation.ranked_labels]
    unmeasured = [m.label for m in evaluation.per_label.values() if not m.measured]
    table = ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
             + "".join(rows) + "</table>")
    if unmeasured:
        table += ('<p class="note">No test images, so not measured and not in the averages: '
                  + html.escape(", ".join(unmeasured)) + ".</p>")
    return table


def _page(evaluation: Evaluation, title: str, confusion: Path | None, curves: Path,
          examples: Sequence[Path]) -> str:
    task = {"classification": "Image classification (one label per image)",
            "multilabel": "Image classification (several labels per image)",
            "detection": "Object detection (IoU ≥ 0.5, same label)"}[evaluation.task]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><div class='sub'>{html.escape(task)} · "
        f"{len(evaluation.labels)} labels</div>",
        _cards(evaluation),
        "<h2>Per label performance</h2>", _label_table(evaluation),
        "<p class='note'>A label counts as predicted when its confidence reaches the label's "
        "assumed threshold, the one with the best F1 on the test set. Averages are unweighted "
        "means over the labels.</p>",
    ]
    if confusion is not None:
        parts += ["<h2>Confusion matrix</h2>",
                  "<p class='note'>Top-1 prediction, thresholds ignored; each ground-truth "
                  "column sums to 100 %.</p>",
                  f"<img alt='confusion matrix' src='{_data_uri(confusion)}'>"]
    measured = len(evaluation.ranked_labels)
    parts += ["<h2>Precision-recall curves</h2>",
              "<p class='note'>Every distinct confidence as a threshold; the dot is the "
              "assumed threshold."
              + (f" First {plots.MAX_CURVES} of {measured} labels, best F1 first."
                 if measured > plots.MAX_CURVES else "") + "</p>",
              f"<img alt='precision-recall curves' src='{_data_uri(curves)}'>"]
    if examples:
        legend = ("Green: true box found · orange: true box missed · blue: correct prediction · "
                  "red: wrong prediction (at the assumed thresholds)."
                  if evaluation.task == DETECTION else
                  "Captions give the true labels and the predictions; red marks a mistake.")
        parts += ["<h2>Test images</h2>", f"<p class='note'>{legend}</p>", "<div class='grid'>"]
        parts += [f"<img alt='{html.escape(p.name)}' src='{_data_uri(p)}'>" for p in examples]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_report(evaluation: Evaluation, out_dir: Path, *, title: str) -> list[Path]:
    """Write the report under `out_dir`; returns its files, index.html first."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    confusion = None
    if evaluation.confusion_matrix is not None:
        confusion = plots.confusion_heatmap(evaluation.labels, evaluation.confusion_matrix,
                                            out_dir / CONFUSION_NAME)
    curves = plots.precision_recall_curves(evaluation.ranked_labels, out_dir / CURVES_NAME)
    examples = render_examples(evaluation, out_dir)
    index = out_dir / INDEX_NAME
    index.write_text(_page(evaluation, title, confusion, curves, examples), encoding="utf-8")
    return [index, *([confusion] if confusion else []), curves, *examples]


__all__ = ["MAX_EXAMPLES", "render_report"]
