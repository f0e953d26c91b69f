"""Training utilities: a resumable loop with progress, logging and atomic checkpoints."""

from ._checkpoint import load_checkpoint as load_checkpoint, save_checkpoint as save_checkpoint
from ._fit import TrainState as TrainState, fit as fit, make_step as make_step
from ._loop import train as train
from ._progress import Progress as Progress
