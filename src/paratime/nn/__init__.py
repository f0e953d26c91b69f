"""Layers for deep recurrent models: an RNN layer, a residual block, a sequence model."""

from ._block import Block as Block
from ._model import SequenceModel as SequenceModel, WarmStart as WarmStart
from ._rnn import RNN as RNN

__all__ = ["Block", "RNN", "SequenceModel", "WarmStart"]
