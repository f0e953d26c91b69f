"""Training utilities: a resumable loop with progress, logging and verified atomic checkpoints."""

from ._atomic import (
    atomic_open as atomic_open,
    atomic_write_bytes as atomic_write_bytes,
    atomic_write_text as atomic_write_text,
    remove_stale_temporaries as remove_stale_temporaries,
)
from ._checkpoint import (
    CheckpointError as CheckpointError,
    load_checkpoint as load_checkpoint,
    previous_path as previous_path,
    save_checkpoint as save_checkpoint,
    verify_checkpoint as verify_checkpoint,
)
from ._fit import TrainState as TrainState, fit as fit, make_step as make_step
from ._loop import (
    SolverFallbackWarning as SolverFallbackWarning,
    has_checkpoint as has_checkpoint,
    train as train,
)
from ._progress import Progress as Progress

__all__ = [
    "CheckpointError",
    "Progress",
    "SolverFallbackWarning",
    "TrainState",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "fit",
    "has_checkpoint",
    "load_checkpoint",
    "make_step",
    "previous_path",
    "remove_stale_temporaries",
    "save_checkpoint",
    "train",
    "verify_checkpoint",
]
