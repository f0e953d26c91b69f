"""paratime: train and evaluate recurrent neural networks in parallel over time, on JAX."""

import importlib.metadata

from . import cells as cells, structures as structures, train as train
from ._adjoints import (
    AbstractAdjoint as AbstractAdjoint,
    AutodiffAdjoint as AutodiffAdjoint,
    ImplicitAdjoint as ImplicitAdjoint,
    IterativeAdjoint as IterativeAdjoint,
)
from ._failure import NewtonError as NewtonError
from ._platform import for_platform as for_platform
from ._scan import linear_recurrence as linear_recurrence
from ._sharding import (
    ShardedDEER as ShardedDEER,
    ShardedQuasiDEER as ShardedQuasiDEER,
    sharded_linear_recurrence as sharded_linear_recurrence,
)
from ._solution import RESULTS as RESULTS, Solution as Solution
from ._solver import (
    DEER as DEER,
    ELK as ELK,
    AbstractSolver as AbstractSolver,
    Auto as Auto,
    ImplicitSequential as ImplicitSequential,
    LinearScan as LinearScan,
    Parareal as Parareal,
    QuasiDEER as QuasiDEER,
    Sequential as Sequential,
)
from ._unroll import unroll as unroll

try:
    __version__ = importlib.metadata.version("paratime")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
    __version__ = "0.0.0"
