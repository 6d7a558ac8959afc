"""What a failed training tells the person who asked for it, in their terms.

A `TRAINING_FAILED` StatusMessage starts with the service's own sentence (AWS clients match
on it) and goes on to say what went wrong as the user can act on it: which image (by its
`s3://` source-ref, never the server's copy of it), that the worker ran out of memory, that
it was stopped. It never carries a server path or a traceback: the network is not trusted,
and the person reading it cannot open the server's files anyway. Operators get the details
(the exception, the worker log's last lines) in the gateway's own log instead.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable

from labelgate.backends.local.core.caller_text import scrub
from labelgate.backends.local.core.processes import signal_name
from labelgate.backends.local.validation.manifests import FILE_ERROR_MESSAGES

SERVICE_ISSUE_MESSAGE = "Amazon Rekognition experienced a service issue."
IMAGE_COPY_MESSAGE = FILE_ERROR_MESSAGES["ERROR_FAILED_IMAGES_S3_COPY"]
#: Said after each message so the reader knows where the rest of the story is.
OPERATOR_HINT = "The gateway's log has the details."
MEMORY_MESSAGE = (
    "The training worker ran out of memory. Train with fewer or smaller images or a "
    "smaller training budget, or give the server more memory."
)
KILLED_MESSAGE = (
    "The training worker was killed (SIGKILL), most likely because the machine ran out of "
    "memory. Train with fewer or smaller images, or give the server more memory."
)
#: How PyTorch and the C allocator say it (torch.OutOfMemoryError on a GPU, a RuntimeError
#: from DefaultCPUAllocator on a CPU), besides Python's own MemoryError.
_OUT_OF_MEMORY = re.compile(r"out of memory|can't allocate memory|cannot allocate memory", re.I)
_OOM_TYPES = frozenset({"MemoryError", "OutOfMemoryError"})


def image_names(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{server copy path: source-ref} from (path, source_ref) pairs, for `scrub`."""
    return {str(path): str(ref) for path, ref in pairs}


def exception_message(error_type: str, detail: str) -> str:
    """A worker's exception as a sentence (`detail` already scrubbed)."""
    if error_type in _OOM_TYPES or _OUT_OF_MEMORY.search(detail):
        return MEMORY_MESSAGE
    detail = detail.strip() or "no explanation was given"
    return f"Training stopped with an error: {detail.rstrip('.')}."


def worker_failure_message(returncode: int | None, error_type: str | None = None,
                           detail: str = "") -> str:
    """The StatusMessage for a worker that did not deliver a model."""
    if error_type is not None:
        what = exception_message(error_type, scrub(detail))
    elif returncode == -signal.SIGKILL:
        what = KILLED_MESSAGE
    elif returncode is not None and returncode < 0:
        name = signal_name(-returncode) or f"signal {-returncode}"
        what = f"The training worker was stopped by {name} before it finished."
    elif returncode == 0:
        what = "The training worker ended without reporting a result."
    else:
        what = f"The training worker exited with code {returncode} before it finished."
    return f"{SERVICE_ISSUE_MESSAGE} {what} {OPERATOR_HINT}"


def image_copy_message(detail: str) -> str:
    """ERROR_FAILED_IMAGES_S3_COPY's sentence, then which image and why."""
    detail = scrub(detail).rstrip(".")
    return f"{IMAGE_COPY_MESSAGE} {detail[:1].upper()}{detail[1:]}." if detail \
        else IMAGE_COPY_MESSAGE


def internal_failure_message(what: str) -> str:
    """A fault on the gateway's side, said plainly (`what` names the step that failed)."""
    return f"{SERVICE_ISSUE_MESSAGE} {scrub(what).rstrip('.')}. {OPERATOR_HINT}"


__all__ = [
    "IMAGE_COPY_MESSAGE",
    "MEMORY_MESSAGE",
    "SERVICE_ISSUE_MESSAGE",
    "exception_message",
    "image_copy_message",
    "image_names",
    "internal_failure_message",
    "worker_failure_message",
]
