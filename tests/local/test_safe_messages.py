"""What callers read of an exception: no server paths, no tracebacks, their own names kept."""

from __future__ import annotations

from labelgate.backends.local.core.caller_text import MAX_DETAIL_CHARS, scrub
from labelgate.backends.local.training.failures import (
    MEMORY_MESSAGE,
    SERVICE_ISSUE_MESSAGE,
    image_copy_message,
    worker_failure_message,
)


def test_image_copies_become_their_source_refs_and_other_paths_disappear():
    copy = "/srv/labelgate/training/7/images/3f2a.png"
    text = (f"cannot identify image file '{copy}'\n"
            "Traceback (most recent call last):\n"
            '  File "/opt/venv/lib/python3.11/site-packages/PIL/Image.py", line 3498, in open\n'
            "[Errno 2] No such file or directory: '/srv/labelgate/serving/pv1/model.onnx'")
    said = scrub(text, {copy: "s3://photos/cats/tabby.png"})
    assert "'s3://photos/cats/tabby.png'" in said
    assert "/srv" not in said and "/opt" not in said and "Traceback" not in said
    assert "<server path>" in said and "\n" not in said


def test_urls_and_words_with_slashes_are_kept():
    text = "S3 at http://127.0.0.1:9000/bucket unreachable; 1000/50 and/or s3://b/k.jpg"
    assert scrub(text) == text


def test_long_text_is_cut_to_one_status_line():
    said = scrub("x" * 5000)
    assert len(said) == MAX_DETAIL_CHARS and said.endswith("…")


def test_worker_failures_read_as_sentences():
    assert worker_failure_message(1, "MemoryError", "") == (
        f"{SERVICE_ISSUE_MESSAGE} {MEMORY_MESSAGE} The gateway's log has the details.")
    assert "stopped by SIGTERM" in worker_failure_message(-15)
    assert "exited with code 2" in worker_failure_message(2)
    said = worker_failure_message(1, "ValueError", "bad box in '/tmp/job/job.json'")
    assert "bad box in '<server path>'" in said and "/tmp" not in said


def test_file_urls_credentials_and_relative_paths_do_not_reach_callers():
    said = scrub("at file:///data/s3/b/k and http://user:secret@minio:9000/b "
                 "key:/data/x ./.labelgate/training/1/worker.log")
    assert "/data" not in said and "secret" not in said and ".labelgate" not in said
    assert "http://minio:9000/b" in said


def test_pytorch_out_of_memory_reads_as_out_of_memory():
    for error_type, detail in (("OutOfMemoryError", "CUDA out of memory. Tried to allocate"),
                               ("RuntimeError", "[enforce fail at alloc_cpu.cpp:117] "
                                                "DefaultCPUAllocator: can't allocate memory")):
        assert MEMORY_MESSAGE in worker_failure_message(1, error_type, detail)


def test_an_image_that_cannot_be_copied_is_named():
    said = image_copy_message("cannot read the image s3://b/cat.jpg: [Errno 2] No such file "
                              "or directory: '/srv/lg/s3/b/cat.jpg'")
    assert said.startswith("Failed to copy images from S3 bucket. Cannot read the image "
                           "s3://b/cat.jpg")
    assert "/srv" not in said
