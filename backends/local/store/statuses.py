"""Status names stored in the tables that more than one part of the backend reads.

Datasets (docs/reference/datasets.md): a job commits its *_IN_PROGRESS status with the
work it describes, so any reader — the dataset RPCs, the training inputs, a restart —
sees from the row alone whether the dataset is being changed.
"""

from __future__ import annotations

CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_COMPLETE = "CREATE_COMPLETE"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
UPDATE_FAILED = "UPDATE_FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"

IN_PROGRESS = frozenset({CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS})
BUSY = frozenset({CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS})  # work that must not be disturbed
COMPLETE = frozenset({CREATE_COMPLETE, UPDATE_COMPLETE})

#: A model version whose training job is running (or will run again after a restart).
TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS"
