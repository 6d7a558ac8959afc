"""The training worker process: `python -m labelgate.backends.local.training.worker JOB`.

The gateway never trains in its own process; it writes job.json (jobfile.py) and starts
this. The worker:

1. reads the job (the TrainingRequest with local image copies);
2. trains: `ml.train_model(request, progress)` exports ONNX and predicts the test set with
   it (contract.TrainedModel);
3. evaluates those predictions (evaluation/): per-label thresholds, the summary file, the
   snapshots, the report;
4. completes the card (model.json) with the thresholds and metrics, beside model.onnx;
5. prints one JSON line per progress report and a last result line (worker_protocol.py).

Everything it writes lands under `<workdir>/output/` (the learner's own scratch under
`<workdir>/work/`); the gateway uploads from there. Exit 0 with a result line is success;
anything else is a failed job, whose details are in the log (stderr, `worker.log`).

File descriptor 1 is pointed at stderr as soon as the worker starts, so whatever libraries
print lands in the log; the protocol lines go to a private copy of the original stdout.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from labelgate.backends.local.core.caller_text import scrub
from labelgate.backends.local.training.contract import (
    Learner,
    Progress,
    ProgressSink,
    TrainedModel,
)
from labelgate.backends.local.training.failures import image_names
from labelgate.backends.local.training.jobfile import TrainingJob, read_job
from labelgate.backends.local.training.learner_plugins import load_learner
from labelgate.backends.local.training.worker_protocol import (
    WorkerError,
    WorkerResult,
    error_line,
    progress_line,
    result_line,
)

log = logging.getLogger("labelgate.training.worker")

OUTPUT_DIR = "output"
MODEL_DIR = f"{OUTPUT_DIR}/model"
EVALUATION_DIR = f"{OUTPUT_DIR}/evaluation"
REPORT_DIR = f"{EVALUATION_DIR}/report"
LEARNER_DIR = "work"
MODEL_FILE = "model.onnx"
CARD_FILE = "model.json"
TRAINING_SNAPSHOT = "training_snapshot.manifest"
TESTING_SNAPSHOT = "testing_snapshot.manifest"


# --- writing the outputs -------------------------------------------------------------------------


def _write_lines(path: Path, lines: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            text = line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
            out.write(text.rstrip("\r\n") + "\n")


def _install_model(trained: TrainedModel, card: dict[str, Any], model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_FILE
    if Path(trained.onnx_path).resolve() != target.resolve():
        shutil.move(str(trained.onnx_path), target)
    card["onnx_file"] = MODEL_FILE
    tmp = model_dir / (CARD_FILE + ".tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, model_dir / CARD_FILE)


def _rel(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def run_job(job: TrainingJob, jobdir: Path, progress: ProgressSink,
            train: Learner | None = None) -> WorkerResult:
    """Train, evaluate and write every output under `jobdir/output`; the result names them."""
    from labelgate.backends.local.training.evaluation import (
        evaluate,
        render_report,
        summary_file_name,
        training_snapshot_lines,
    )

    request = job.request
    started = time.monotonic()
    progress(Progress(stage="preparing", message=(
        f"{len(request.train)} training and {len(request.test)} test images, "
        f"{len(request.labels)} labels, task {request.task}")))
    trained = (train or load_learner(request.settings.learner))(request, progress)

    progress(Progress(stage="evaluating", message="scoring the test set"))
    ev = evaluate(request.task, request.labels, request.test, trained.test_predictions)
    ended_at = dt.datetime.now(dt.UTC)
    evaluation_dir = jobdir / EVALUATION_DIR
    evaluation_dir.mkdir(parents=True, exist_ok=True)
    summary_path = evaluation_dir / summary_file_name(job.project_name, job.version_name)
    summary = ev.summary_document(version_arn=job.version_arn,
                                  n_training_images=len(request.train), ended_at=ended_at)
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    training_path = evaluation_dir / TRAINING_SNAPSHOT
    testing_path = evaluation_dir / TESTING_SNAPSHOT
    _write_lines(training_path, training_snapshot_lines(
        request.task, request.labels, request.train, created_at=job.created_at))
    _write_lines(testing_path, ev.testing_snapshot_lines(created_at=ended_at))

    progress(Progress(stage="exporting", message="writing the model and its report"))
    card = dict(trained.card)
    card["thresholds"] = {label: float(value) for label, value in ev.thresholds.items()}
    card["metrics"] = {**dict(card.get("metrics") or {}), "F1Score": float(ev.f1_score)}
    card.setdefault("training", trained.choices)
    _install_model(trained, card, jobdir / MODEL_DIR)

    report_dir = jobdir / REPORT_DIR
    report_files: list[str] = []
    try:
        written = render_report(ev, report_dir,
                                title=f"{job.project_name} / {job.version_name}")
        report_files = sorted(_rel(path, report_dir) for path in written)
    except Exception:
        # The model is good without its pictures: keep it, say so in the log.
        log.exception("the evaluation report could not be rendered; continuing without it")

    return WorkerResult(
        f1_score=float(ev.f1_score),
        model_files=(f"{MODEL_DIR}/{MODEL_FILE}", f"{MODEL_DIR}/{CARD_FILE}"),
        summary=_rel(summary_path, jobdir),
        training_snapshot=_rel(training_path, jobdir),
        testing_snapshot=_rel(testing_path, jobdir),
        report_dir=REPORT_DIR if report_files else "",
        report_files=tuple(report_files),
        training_seconds=float(trained.training_seconds),
        epochs_run=int(trained.epochs_run),
        details={"wall_seconds": round(time.monotonic() - started, 3),
                 "n_train": len(request.train), "n_test": len(request.test)},
    )


# --- the process ---------------------------------------------------------------------------------


def _protocol_stream() -> TextIO:
    """A private copy of stdout for the protocol; fd 1 then points at stderr (the log)."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labelgate.backends.local.training.worker JOB.json",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    protocol = _protocol_stream()

    def send(line: str) -> None:
        protocol.write(line + "\n")
        protocol.flush()

    def progress(report: Progress) -> None:
        send(progress_line(report))

    job_path = Path(args[0]).resolve()
    log.info("worker %d starting on %s", os.getpid(), job_path)
    images: dict[str, str] = {}
    try:
        job = read_job(job_path)
        images = image_names((e.image_path, e.source_ref)
                             for e in (*job.request.train, *job.request.test))
        result = run_job(job, job_path.parent, progress)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        # What the caller will read: images named by their source-refs, no server paths.
        send(error_line(WorkerError(type(exc).__name__, scrub(str(exc), images))))
        return 1
    send(result_line(result))
    log.info("worker %d done: F1 %.4f", os.getpid(), result.f1_score)
    return 0


if __name__ == "__main__":
    sys.exit(main())
