"""Recurrent cells with analytic Jacobians, and the base classes for your own."""

from ._abstract import AbstractCell as AbstractCell, AbstractLinearCell as AbstractLinearCell
from ._block_gru import BlockGRU as BlockGRU
from ._cfc import CfC as CfC
from ._diagonal_gru import DiagonalGRU as DiagonalGRU
from ._diagonal_lstm import DiagonalLSTM as DiagonalLSTM
from ._elman import Elman as Elman
from ._gru import GRU as GRU
from ._lru import LRU as LRU
from ._lstm import LSTM as LSTM
from ._mingru import MinGRU as MinGRU
from ._slstm import SLSTM as SLSTM

__all__ = [
    "AbstractCell",
    "AbstractLinearCell",
    "BlockGRU",
    "CfC",
    "DiagonalGRU",
    "DiagonalLSTM",
    "Elman",
    "GRU",
    "LRU",
    "LSTM",
    "MinGRU",
    "SLSTM",
]
