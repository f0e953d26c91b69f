"""Decomposition in time: overlapping windows with an overlap operator (D'Amore 2025), and
multiple shooting with trainable states, on one device (vmap) or many (shard_map + ppermute).
"""

from ._decomposition import (
    DecomposedProblem as DecomposedProblem,
    Decomposition as Decomposition,
    DecompositionState as DecompositionState,
)
from ._fit import fit_bptt as fit_bptt, fit_problem as fit_problem
from ._model import RNN as RNN, sequence_loss as sequence_loss
from ._parallel import Neighbours as Neighbours, map_windows as map_windows, time_mesh as time_mesh
from ._shooting import (
    Shooting as Shooting,
    ShootingProblem as ShootingProblem,
    ShootingState as ShootingState,
)
from ._windows import Windows as Windows

__all__ = [
    "DecomposedProblem",
    "Decomposition",
    "DecompositionState",
    "Neighbours",
    "RNN",
    "Shooting",
    "ShootingProblem",
    "ShootingState",
    "Windows",
    "fit_bptt",
    "fit_problem",
    "map_windows",
    "sequence_loss",
    "time_mesh",
]
