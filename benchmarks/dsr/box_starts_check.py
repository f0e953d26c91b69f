"""Validation scores of trained Lorenz-63 runs with and without runs from off the data.

    python benchmarks/dsr/box_starts_check.py runs/defaults-v2/lorenz63-s5 ...

For the best and the last model of each run: the worst D_stsp of 16 spread-out validation
starts, and the same with 8 more starts uniform in the data's bounding box
(`paratime.dsr.validation_scores(..., box_starts=8)`), on the last 10 % of the training set.
"""

import sys
from pathlib import Path

import jax.numpy as jnp

from paratime.data import load_series
from paratime.dsr._cli import _restore
from paratime.dsr._select import split_validation, validation_scores

_, val = split_validation(load_series("lorenz63"), 0.1)
val = jnp.asarray(val)
for run in sys.argv[1:]:
    for which in ("best", "last"):
        cfg, state, step, used = _restore(Path(run), which)
        a = validation_scores(state.model, val, starts=16)["val_D_stsp"]
        b = validation_scores(state.model, val, starts=16, box_starts=8)["val_D_stsp"]
        print(f"{run} {used} step {step}: worst of 16 {a:.2f}; with 8 box starts {b:.2f}")
