"""Layers for deep recurrent models: an RNN layer, a residual block, a sequence model."""

from ._block import Block as Block
from ._model import SequenceModel as SequenceModel, WarmStart as WarmStart
from ._rnn import RNN as RNN, state_output as state_output, zero_state as zero_state

__all__ = [
    "Block",
    "RNN",
    "SequenceModel",
    "WarmStart",
    "state_output",
    "zero_state",
]
