"""Model selection on a held-out validation segment by D_stsp, as the GTF code does."""

import math
import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..train import save_checkpoint
from . import metrics
from ._evaluate import BURN_IN, _forecasts

BEST = "best.eqx"
VALIDATION_STARTS = 8
MIN_VALIDATION = 2 * BURN_IN + 100
"""The shortest validation segment: a burn-in of `BURN_IN` steps and a free run long enough
for a state-space histogram to mean something (a few hundred steps at least; more is better)."""


def split_validation(
    data: Float[np.ndarray, "T d"], fraction: float, *, min_train: int = 2, if_short="raise"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Split a training series into (train, validation): the validation segment is its last
    `fraction` (rounded down to whole steps); `fraction=0` holds nothing out.

    **Arguments:**

    - `data`: the series, shape (T, d).
    - `fraction`: the part held out, in [0, 1).
    - `min_train`: the fewest steps the training part may keep (e.g. the sequence length).
    - `if_short`: what to do when the segment would be shorter than `MIN_VALIDATION` steps:
        `"raise"` a `ValueError`, or `"skip"`: hold nothing out (returns `validation=None`).

    **Returns:**

    `(train, validation)`, with `validation=None` for `fraction=0`.

    **Raises:**

    `ValueError` naming `fraction` if it is outside [0, 1), or if the segment it gives is
    shorter than `MIN_VALIDATION` steps or leaves fewer than `min_train` to train on.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise TypeError(f"`fraction` must be a number in [0, 1); got {fraction!r}.")
    if not 0 <= fraction < 1:
        raise ValueError(f"`fraction` must be in [0, 1) (0: no validation); got {fraction!r}.")
    if fraction == 0:
        return data, None
    T = data.shape[0]
    n = int(math.floor(fraction * T))
    if n < MIN_VALIDATION and if_short == "skip":
        return data, None
    if n < MIN_VALIDATION:
        raise ValueError(
            f"`fraction`: holding out {fraction} of {T} steps gives a validation segment of "
            f"{n} steps; it needs at least {MIN_VALIDATION}: hold out more, or 0 for no "
            "model selection."
        )
    if T - n < min_train:
        raise ValueError(
            f"`fraction`: holding out {fraction} of {T} steps leaves {T - n} to train on, "
            f"fewer than the {min_train} needed (the sequence length); hold out less."
        )
    return data[: T - n], data[T - n :]


def validation_scores(
    model: Any, validation: Float[Array, "V d"], *, starts: int = VALIDATION_STARTS
) -> dict[str, float]:
    """D_stsp and D_H of the model's free runs against a validation segment.

    From each of `starts` evenly spaced points of the segment, the model reads `BURN_IN + 1`
    observations (a forced burn-in, as in `paratime.dsr.evaluate`), then runs freely for as
    many steps as the segment has; each run is compared with the whole segment, and the
    scores are averaged over the runs. Several starts make the score see a model whose
    attractor depends on where it starts (a spurious limit cycle beside the chaotic
    attractor), which one start can miss. The runs are one batched scan, so the cost is
    small (8 runs of 10 000 steps and their metrics: ~0.1 s on one CPU core for the
    default shPLRNN). A run that becomes non-finite scores D_stsp = inf (never selected).
    """
    v = np.asarray(validation)
    V = v.shape[0]
    first = np.linspace(0, V - BURN_IN - 1, max(1, min(starts, V - BURN_IN))).astype(int)
    windows = jnp.asarray(np.stack([v[s : s + BURN_IN + 1] for s in first]))
    runs = np.asarray(_forecasts(model, windows, V))
    if not np.all(np.isfinite(runs)):
        return {"val_D_stsp": math.inf, "val_D_H": 1.0}
    d_stsp = [metrics.state_space_divergence(v, run) for run in runs]
    d_h = [float(metrics.power_spectrum_distance(v, run)) for run in runs]
    return {"val_D_stsp": float(np.mean(d_stsp)), "val_D_H": float(np.mean(d_h))}


def make_validator(validation: Float[Array, "V d"], out_dir: str | os.PathLike | None):
    """The `validate(state, done)` hook of `paratime.train.train` for model selection.

    It scores `state.model` by `validation_scores`; when its D_stsp is below `state.best_score`
    (strictly), the state becomes the best: `best_score`/`best_step` are updated and, with an
    `out_dir`, the whole state is written to `out_dir/best.eqx` (the checkpoint format of
    `paratime.train.save_checkpoint`: atomic, with a SHA-256; it records the step and score).
    The metrics it adds to the step's log are `val_D_stsp`, `val_D_H`, `best_D_stsp` and
    `best_step`.
    """
    best_path = None if out_dir is None else Path(out_dir) / BEST
    data = jnp.asarray(validation)

    def validate(state, done):
        scores = validation_scores(state.model, data)
        score = scores["val_D_stsp"]
        best = float(state.best_score)
        if math.isfinite(score) and score < best:
            state = type(state)(state.model, state.opt_state, state.key, state.alpha, score, done)
            if best_path is not None:
                save_checkpoint(best_path, state, step=done, D_stsp=score, D_H=scores["val_D_H"])
        scores["best_D_stsp"] = float(state.best_score)
        scores["best_step"] = float(state.best_step)
        return state, scores

    return validate
