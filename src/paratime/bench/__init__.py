"""The benchmark harness: time every solver on your cell (`time_solvers`) or on the shipped
cells at your sizes (`paratime bench`, one JSON line per measurement), side by side with the
baselines (`lax.scan`, a straightforward DEER, PyTorch where it is installed).

Run `paratime bench --quick` (or choose `--cell/--T/--N/--batch/--solver`); the scripts that
regenerate docs/benchmarks.md from the results live in `benchmarks/` beside the package.
"""

from ._baselines import naive_deer as naive_deer, scan_baseline as scan_baseline
from ._environment import environment as environment
from ._grid import (
    DEFAULT_SOLVERS as DEFAULT_SOLVERS,
    SOLVERS as SOLVERS,
    Group as Group,
    grid as grid,
    quick_grid as quick_grid,
)
from ._measure import time_call as time_call
from ._run import results_path as results_path, run_bench as run_bench
from ._user import time_solvers as time_solvers

__all__ = [
    "DEFAULT_SOLVERS",
    "Group",
    "SOLVERS",
    "environment",
    "grid",
    "naive_deer",
    "quick_grid",
    "results_path",
    "run_bench",
    "scan_baseline",
    "time_call",
    "time_solvers",
]
