"""Benchmarks: every solver against the sequential scan, a straightforward DEER and PyTorch
(cuDNN on a GPU).

Run `paratime bench --quick` (or `paratime bench` for the full sweep); see docs/benchmarks.md.
"""

from ._baselines import naive_deer as naive_deer, scan_baseline as scan_baseline
from ._grid import (
    DEFAULT_SOLVERS as DEFAULT_SOLVERS,
    SOLVERS as SOLVERS,
    Group as Group,
    grid as grid,
    quick_grid as quick_grid,
)
from ._report import load_results as load_results, write_report as write_report
from ._run import environment as environment, run_bench as run_bench
