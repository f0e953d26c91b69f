"""Model selection on a held-out validation segment: by D_stsp, as the GTF code does, or by
D_stsp and D_H together, each in units of the data's own floor."""

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
VALIDATION_STARTS = 16
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


def spread_starts(
    segment: Float[np.ndarray, "V d"], count: int, *, context: int = BURN_IN
) -> np.ndarray:
    """`count` start indices in a segment whose free runs begin at points spread over the
    state space: farthest-point sampling over the points reached after each start's context.

    Start s reads `segment[s : s + context + 1]`; its free run begins at `segment[s + context]`.
    The first start is the segment's first one; each next one is the candidate whose starting
    point is farthest (Euclidean, on the data's scale per dimension) from all chosen so far. A
    basin of attraction that only part of the state space reaches (a spurious limit cycle
    beside a chaotic attractor, a region from which the model overflows) is then visited by
    some start, where evenly spaced starts in time can all miss it.

    **Arguments:**

    - `segment`: the series, shape (V, d), V > `context`.
    - `count`: the number of starts (fewer if the segment has fewer candidates).
    - `context`: the observations each start reads before running freely.

    **Returns:**

    The sorted start indices, an int array of shape (≤ count,).
    """
    v = np.asarray(segment, np.float64)
    candidates = v.shape[0] - context
    if candidates < 1:
        raise ValueError(f"`segment` has {v.shape[0]} steps; it needs more than {context}.")
    stride = max(1, candidates // 4096)  # farthest-point sampling over ≤ 4096 candidates
    index = np.arange(0, candidates, stride)
    points = v[index + context]
    points = (points - points.mean(0)) / np.maximum(points.std(0), 1e-12)
    chosen = [0]
    dist = np.linalg.norm(points - points[0], axis=1)
    for _ in range(min(count, len(index)) - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.sort(index[np.unique(chosen)])


def validation_scores(
    model: Any,
    validation: Float[Array, "V d"],
    *,
    starts: int = VALIDATION_STARTS,
    reduce: str = "worst",
    box_starts: int = 0,
) -> dict[str, float]:
    """D_stsp and D_H of the model's free runs against a validation segment.

    From each of `starts` points of the segment spread over the state space
    (`spread_starts`), the model reads `BURN_IN + 1` observations (a forced burn-in, as in
    `paratime.dsr.evaluate`), then runs freely for as many steps as the segment has; each run
    is compared with the whole segment. `reduce="worst"` scores the model by its worst run
    (the largest D_stsp and D_H), so a model with a spurious attractor or an overflow reached
    from any one start scores badly; `"mean"` averages the runs. The runs are one batched
    scan (16 runs of 10 000 steps and their metrics: ~0.1 s on one CPU core for the default
    shPLRNN). A run that becomes non-finite scores D_stsp = inf (never selected).

    **Arguments:**

    - `model`: a `DSRModel` (or `LinearSSM`).
    - `validation`: the held-out segment, shape (V, d), V > `BURN_IN`.
    - `starts`: the number of free runs.
    - `reduce`: `"worst"` or `"mean"` over the runs.
    - `box_starts`: also this many runs from points off the data, drawn uniformly (fixed
        seed) in the segment's bounding box: the model is held at the point for the burn-in
        and then runs freely; the first quarter of each such run is dropped as a transient.
        A model whose attractor depends on the start (a spurious cycle whose basin holds
        points near, but not on, the data) scores badly through them.

    **Returns:**

    `{"val_D_stsp": ..., "val_D_H": ...}`.
    """
    if reduce not in ("worst", "mean"):
        raise ValueError(f"`reduce` must be 'worst' or 'mean'; got {reduce!r}.")
    v = np.asarray(validation)
    V = v.shape[0]
    first = spread_starts(v, starts)
    windows = np.stack([v[s : s + BURN_IN + 1] for s in first])
    if box_starts:
        lo, hi = v.min(0), v.max(0)
        points = np.random.default_rng(0).uniform(lo, hi, (box_starts, v.shape[1]))
        held = np.repeat(points[:, None, :], BURN_IN + 1, axis=1).astype(v.dtype)
        windows = np.concatenate([windows, held])
    runs = np.asarray(_forecasts(model, jnp.asarray(windows), V + (V // 4 if box_starts else 0)))
    if not np.all(np.isfinite(runs)):
        return {"val_D_stsp": math.inf, "val_D_H": 1.0}
    # Runs from the data's own points are scored whole; those from off the data after their
    # first quarter (a transient onto the attractor).
    runs = [r[:V] if i < len(first) else r[V // 4 :] for i, r in enumerate(runs)]
    d_stsp = [metrics.state_space_divergence(v, run) for run in runs]
    d_h = [float(metrics.power_spectrum_distance(v, run)) for run in runs]
    agg = np.max if reduce == "worst" else np.mean
    return {"val_D_stsp": float(agg(d_stsp)), "val_D_H": float(agg(d_h))}


FLOOR_WINDOWS = 4
MIN_FLOOR = 1e-2
"""The smallest floor `make_validator` divides by (a clean periodic series scores ~0 against
itself)."""


def data_floor(
    reference: Float[np.ndarray, "T d"],
    validation: Float[np.ndarray, "V d"],
    *,
    windows: int = FLOOR_WINDOWS,
) -> dict[str, float]:
    """What a perfect model of the training data scores on the validation segment: D_stsp and
    D_H of stretches of the training series, each as long as the segment, against it.

    **Arguments:**

    - `reference`: the training series, shape (T, d).
    - `validation`: the validation segment, shape (V, d).
    - `windows`: the number of stretches, spread evenly over the series (fewer if it is
        short; the whole series if it is shorter than the segment, against as many steps of
        the segment for D_H, which compares equal lengths).

    **Returns:**

    `{"D_stsp": ..., "D_H": ...}`, each the median over the stretches.
    """
    ref = np.asarray(reference, np.float64)
    val = np.asarray(validation, np.float64)
    V = val.shape[0]
    if ref.shape[0] < V:
        stretches = [ref]
    else:
        first = np.linspace(0, ref.shape[0] - V, max(1, min(windows, ref.shape[0] // V)))
        stretches = [ref[int(s) : int(s) + V] for s in first]
    d_stsp = [metrics.state_space_divergence(val, w) for w in stretches]
    d_h = [float(metrics.power_spectrum_distance(val[: w.shape[0]], w)) for w in stretches]
    return {"D_stsp": float(np.median(d_stsp)), "D_H": float(np.median(d_h))}


def _floor(reference, validation) -> dict[str, float]:
    floor = data_floor(np.asarray(reference), np.asarray(validation))
    return {k: max(v, MIN_FLOOR) for k, v in floor.items()}


def _in_floors(scores: dict[str, float], floor: dict[str, float]) -> float:
    """D_stsp / floor + D_H / floor of `validation_scores`' result."""
    return scores["val_D_stsp"] / floor["D_stsp"] + scores["val_D_H"] / floor["D_H"]


def restart_score(
    model: Any,
    validation: Float[Array, "V d"],
    reference: Float[np.ndarray, "T d"],
    *,
    starts: int = VALIDATION_STARTS,
) -> float:
    """The score that ranks several trained models of one data set (the bounded model's
    restarts): D_stsp / floor + D_H / floor of free runs against `validation`, as
    `make_validator(select_on="both")` scores, but each metric the **mean** over the
    `starts` runs, not the worst. Within a run the worst run guards against a model that
    leaves the attractor from one start; between finished models that cannot overflow, the
    worst of several short runs is the noisier statistic (docs/dsr.md, round 13).

    **Arguments:**

    - `model`: a `DSRModel` (or `LinearSSM`).
    - `validation`: the held-out segment, shape (V, d).
    - `reference`: the training series, shape (T, d), for the floor (`data_floor`).
    - `starts`: the number of free runs.

    **Returns:**

    The score (lower is better; the data's own floor scores 2; inf if a run overflows).
    """
    floor = _floor(reference, validation)
    s = validation_scores(model, jnp.asarray(validation), starts=starts, reduce="mean")
    return _in_floors(s, floor)


def make_validator(
    validation: Float[Array, "V d"],
    out_dir: str | os.PathLike | None,
    *,
    starts: int = VALIDATION_STARTS,
    reduce: str = "worst",
    patience: int | None = None,
    box_starts: int = 0,
    select_on: str = "D_stsp",
    reference: Float[np.ndarray, "T d"] | None = None,
):
    """The `validate(state, done)` hook of `paratime.train.train` for model selection.

    It scores `state.model` by `validation_scores` (`starts` free runs from the data and
    `box_starts` from off it, their `reduce`). The score is D_stsp (`select_on="D_stsp"`, as
    the GTF code selects) or, with `select_on="both"`, D_stsp / floor + D_H / floor, each
    metric in units of what the training series itself scores against the segment
    (`data_floor(reference, validation)`, at least `MIN_FLOOR`): on data whose state-space
    histogram is too sparse to rank models (a 5-D delay embedding of a short recording, where
    every model's D_stsp sits near its maximum), the spectrum still ranks them, and on data
    where both inform, neither dominates by its units. When the score is below
    `state.best_score` (strictly), the state becomes the best:
    `best_score`/`best_step` are updated and, with an `out_dir`, the whole state is written to
    `out_dir/best.eqx` (the checkpoint format of `paratime.train.save_checkpoint`: atomic,
    with a SHA-256; it records the step, the score and both metrics). The metrics it adds to
    the step's log are `val_D_stsp`, `val_D_H`, `val_score`, `best_score` and `best_step`.
    With `patience` (in steps), it also adds `stop = 1` once `patience` steps have passed
    since the best step, which ends training (the decision depends only on the state, so a
    resumed run stops where an uninterrupted one does).
    """
    if patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, int) or patience < 1
    ):
        raise ValueError(f"`patience` must be a positive int (steps) or None; got {patience!r}.")
    if select_on not in ("D_stsp", "both"):
        raise ValueError(f"`select_on` must be 'D_stsp' or 'both'; got {select_on!r}.")
    if select_on == "both" and reference is None:
        raise ValueError("`reference` (the training series) is needed with select_on='both'.")
    best_path = None if out_dir is None else Path(out_dir) / BEST
    data = jnp.asarray(validation)
    floor = None
    if select_on == "both":
        floor = _floor(reference, validation)

    def validate(state, done):
        scores = validation_scores(
            state.model, data, starts=starts, reduce=reduce, box_starts=box_starts
        )
        score = scores["val_D_stsp"] if floor is None else _in_floors(scores, floor)
        scores["val_score"] = score
        best = float(state.best_score)
        if math.isfinite(score) and score < best:
            state = type(state)(state.model, state.opt_state, state.key, state.alpha, score, done)
            if best_path is not None:
                save_checkpoint(
                    best_path,
                    state,
                    step=done,
                    score=score,
                    D_stsp=scores["val_D_stsp"],
                    D_H=scores["val_D_H"],
                )
        scores["best_score"] = float(state.best_score)
        scores["best_step"] = float(state.best_step)
        if patience is not None and int(state.best_step) >= 0:
            if done - int(state.best_step) >= patience:
                scores["stop"] = 1.0
        return state, scores

    return validate
