"""paratime: train and evaluate recurrent neural networks in parallel over time, on JAX."""

import importlib
import importlib.metadata

from . import (
    cells as cells,
    nn as nn,
    recurrences as recurrences,
    structures as structures,
    train as train,
)
from ._config import AbstractConfig as AbstractConfig, ConfigError as ConfigError
from ._engine import (
    DEER as DEER,
    ELK as ELK,
    RESULTS as RESULTS,
    AbstractAdjoint as AbstractAdjoint,
    AbstractSolver as AbstractSolver,
    Auto as Auto,
    AutodiffAdjoint as AutodiffAdjoint,
    ImplicitAdjoint as ImplicitAdjoint,
    IterativeAdjoint as IterativeAdjoint,
    Linearisation as Linearisation,
    LinearScan as LinearScan,
    Lyapunov as Lyapunov,
    NewtonError as NewtonError,
    Parareal as Parareal,
    QuasiDEER as QuasiDEER,
    Sequential as Sequential,
    Solution as Solution,
    SolveResult as SolveResult,
    for_platform as for_platform,
    linear_recurrence as linear_recurrence,
    lyapunov as lyapunov,
    unroll as unroll,
)
from ._extras import MissingExtraError as MissingExtraError
from ._maps import MemoryMapWarning as MemoryMapWarning, install as _install_map_check
from ._names import SolverName as SolverName, make_solver as make_solver

__all__ = [
    "AbstractAdjoint",
    "AbstractConfig",
    "AbstractSolver",
    "Auto",
    "AutodiffAdjoint",
    "ConfigError",
    "DEER",
    "ELK",
    "ImplicitAdjoint",
    "IterativeAdjoint",
    "LinearScan",
    "Lyapunov",
    "Linearisation",
    "MemoryMapWarning",
    "MissingExtraError",
    "NewtonError",
    "Parareal",
    "QuasiDEER",
    "RESULTS",
    "Sequential",
    "Solution",
    "SolveResult",
    "SolverName",
    "cells",
    "for_platform",
    "linear_recurrence",
    "lyapunov",
    "make_solver",
    "nn",
    "recurrences",
    "structures",
    "train",
    "unroll",
]

# Warn before XLA's CPU compiler runs out of memory maps (`_maps`).
_install_map_check()

try:
    __version__ = importlib.metadata.version("paratime")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
    __version__ = "0.0.0"


# Applications and tools load on first use (`paratime.dsr`), so that `import paratime` stays
# light and needs none of the optional extras.
_LAZY_SUBMODULES = ("bench", "cli", "data", "decomp", "dsr", "elm", "lm", "pararealnet")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
