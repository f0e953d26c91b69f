"""A recurrent cell with a linear readout, the data it is fitted on, and ELM training."""

import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractCell, AbstractSolver, Sequential
from .._names import make_solver
from ._cells import make_cell, uses_feedback
from ._config import FitSettings
from ._data import Task, split_windows, windows
from ._forecast import output_bounds
from ._hidden import closed_loop_outputs, hidden_matrix
from ._lstsq import ridge, select_lambda_validation
from ._select import multistep_scores


class RecurrentModel(eqx.Module):
    """A recurrent cell followed by a linear readout, working on standardised data.

    ŷ = β·[h_w, direct inputs] + b, where h_w is the hidden layer after the window. `fit`
    (ELM) solves β with the cell frozen; `fit_bptt` trains every weight. Inputs are
    standardised with `(in_mean, in_std)` and outputs with `(out_mean, out_std)`.

    `bounds` (standardised `(lower, upper)` per output, or `None`) is the range a closed-loop
    forecast is held to: every fed-back prediction is clipped to it (see `forecast`). `fit`
    sets it to the training range widened by `BOUNDS_MARGIN` of its width on each side.
    """

    cell: AbstractCell
    beta: Float[Array, "F K"]
    intercept: Float[Array, " K"]
    arch: str = eqx.field(static=True)
    window: int = eqx.field(static=True)
    direct: bool = eqx.field(static=True)
    in_mean: tuple[float, ...] = eqx.field(static=True)
    in_std: tuple[float, ...] = eqx.field(static=True)
    out_mean: tuple[float, ...] = eqx.field(static=True)
    out_std: tuple[float, ...] = eqx.field(static=True)
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = eqx.field(
        static=True, default=None
    )

    def _scale(self, which: str, dtype):
        mean, std = (self.in_mean, self.in_std) if which == "in" else (self.out_mean, self.out_std)
        return jnp.asarray(mean, dtype), jnp.asarray(std, dtype)

    def normalise(self, x, which: str = "in"):
        mean, std = self._scale(which, x.dtype)
        return (x - mean) / std

    def denormalise(self, y, which: str = "out"):
        mean, std = self._scale(which, y.dtype)
        return y * std + mean

    def hidden(self, inputs, feedback=None, *, solver: AbstractSolver = Sequential()):
        """H for standardised windows (teacher forcing)."""
        return hidden_matrix(self.cell, inputs, feedback, direct=self.direct, solver=solver)

    def predict_normalised(self, inputs, feedback=None, *, solver: AbstractSolver = Sequential()):
        return self.hidden(inputs, feedback, solver=solver) @ self.beta + self.intercept


class Prepared(NamedTuple):
    """Windows of a task (standardised), their split in time, and the scaling used."""

    inputs: Float[np.ndarray, "B w D"]
    feedback: Float[np.ndarray, "B w K"]
    targets: Float[np.ndarray, "B K"]
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    in_mean: tuple[float, ...]
    in_std: tuple[float, ...]
    out_mean: tuple[float, ...]
    out_std: tuple[float, ...]
    autoregressive: bool
    window: int


def _stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = x.reshape(-1, x.shape[-1]).astype(np.float64)
    std = x.std(axis=0)
    return tuple(map(float, x.mean(axis=0))), tuple(float(s) if s > 0 else 1.0 for s in std)


def prepare(
    task: Task,
    window: int,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    dtype=None,
) -> Prepared:
    """Cut `task` into windows, split them in time (test = held-out tail) and standardise
    with statistics of the training part only.

    `dtype` (default: float64 when `jax_enable_x64` is on, float32 otherwise) is the dtype
    that `fit` then computes in. **Precision matters for an ELM**: its one least-squares solve
    is only as good as the conditioning the dtype allows, and in float32 `fit` must raise λ
    far above the best one. The command line (`paratime elm fit`) computes in float64; to get
    its results from Python, call `jax.config.update("jax_enable_x64", True)` first. On Santa
    Fe with a 100-unit GRU and window 20, the one-step test NRMSE is 0.11 in float64 and 0.46
    in float32 (λ = 5e-4 against 321).

    **Raises:**

    `ValueError` if the window is longer than the series or the split leaves too little.
    """
    U, F, Y = windows(task, window)
    train, val, test = split_windows(len(Y), test_fraction=test_fraction, val_fraction=val_fraction)
    out_mean, out_std = _stats(Y[train])
    in_mean, in_std = (out_mean, out_std) if task.autoregressive else _stats(U[train])
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64 if dtype is None else dtype)
    im, isd = np.asarray(in_mean), np.asarray(in_std)
    om, osd = np.asarray(out_mean), np.asarray(out_std)
    return Prepared(
        ((U - im) / isd).astype(dtype),
        ((F - om) / osd).astype(dtype),
        ((Y - om) / osd).astype(dtype),
        (train, val, test),
        in_mean,
        in_std,
        out_mean,
        out_std,
        task.autoregressive,
        window,
    )


def _rows(data: Prepared, idx):
    return jnp.asarray(data.inputs[idx]), jnp.asarray(data.feedback[idx]), data.targets[idx]


def fit(
    data: Prepared,
    settings: FitSettings = FitSettings(),
    *,
    key: PRNGKeyArray,
    solver: AbstractSolver | None = None,
) -> tuple[RecurrentModel, dict]:
    """Train a recurrent network as an ELM: random frozen cell, β by ridge least squares.

    Jordan, NARMAX and fully connected cells are trained with teacher forcing: the observed
    previous outputs are fed back, so H does not depend on β and one least-squares solve
    suffices.

    It computes in the dtype of `data` (see `prepare`): float64 needs `jax_enable_x64`, which
    the command line turns on and plain Python does not. In float32 the least-squares solve
    is much less accurate (Santa Fe, GRU, 100 units: test NRMSE 0.46 against 0.11 in
    float64); enable x64 before `prepare` to match `paratime elm fit`.

    **Arguments:**

    - `data`: from `prepare`.
    - `settings`: the network and the fit (`paratime.elm.FitSettings`, the same settings as
        the flags of `paratime elm fit`; its `FitConfig` is one too):
        - `arch`, `hidden`: architecture (see `ARCHITECTURES`) and number of hidden units;
            `spectral_radius`, `input_scaling`, `bias_scaling`, `lags`, `decay`: the random
            weights (see `make_cell`).
        - `lam`: ridge λ, or how to choose it: `"multistep"` (default): the λ with the
            smallest `horizon`-step closed-loop NRMSE on the validation windows
            (`multistep_scores`; `"gcv"` when there is no validation part); `"gcv"`:
            generalised cross-validation of the one-step fit on the training windows;
            `"validation"`: the λ with the best one-step RMSE on the validation windows.
            After `"multistep"` or `"validation"` β is refitted on training plus validation.
        - `method`: `"qr"`, `"cholesky"` or `"svd"` (see `ridge`).
        - `direct`: direct input-to-output links.
        - `solver`: the name of the solver that builds H (vmap over windows, unroll inside).
        - `bounds_margin`: the model's `bounds` (the range closed-loop forecasts are clipped
            to) are the training outputs' range widened by this fraction of its width on
            each side; `None` leaves the model unbounded.
    - `key`: PRNG key of the random weights.
    - `solver`: a solver object, in place of `settings.solver`.

    **Returns:**

    `(model, info)`; `info` has `lam`, `lam_rule`, `condition_number`, `hidden_seconds`,
    `solve_seconds`, `train_seconds` (their sum; wall time, including compilation on the
    first call) and `cpu_seconds` (process CPU time over the same span). With `"multistep"`
    it also has `lam_grid` and `lam_scores` (the validation NRMSE of each candidate).

    **Raises:**

    `ValueError` for an unknown `lam` rule, or `"validation"` without a validation part.

    **Example:**

    ```python
    jax.config.update("jax_enable_x64", True)  # as `paratime elm fit` does
    task = paratime.elm.autoregressive_task(paratime.data.load("santafe"))
    data = paratime.elm.prepare(task, window=20)
    settings = paratime.elm.FitSettings(arch="gru", hidden=100)
    model, info = paratime.elm.fit(data, settings, key=jax.random.key(0))
    ```
    """
    if not isinstance(settings, FitSettings):
        raise TypeError(
            f"`settings` must be a paratime.elm.FitSettings; got {type(settings).__name__}. "
            "Write elm.fit(data, elm.FitSettings(arch=..., hidden=...), key=...)."
        )
    s = settings
    arch, lam, direct, horizon = s.arch, s.lam_value(), s.direct, s.horizon
    solver = make_solver(s.solver) if solver is None else solver
    D, K = data.inputs.shape[-1], data.targets.shape[-1]
    dtype = data.inputs.dtype
    cell = make_cell(arch, D, s.hidden, output_size=K, key=key, dtype=dtype, **s.cell_options())
    train, val, _ = data.split
    if lam == "validation" and len(val) < 1:
        raise ValueError("`lam='validation'` needs a validation part: val_fraction > 0.")
    if lam == "multistep" and len(val) < 2:
        lam = "gcv"
    bounds = None
    if s.bounds_margin is not None:
        bounds = output_bounds(data.targets[np.concatenate([train, val])], s.bounds_margin)
    model = RecurrentModel(
        cell, jnp.zeros((0, K), dtype), jnp.zeros(K, dtype), arch, data.window, direct,
        data.in_mean, data.in_std, data.out_mean, data.out_std, bounds,
    )  # fmt: skip
    rule = lam if isinstance(lam, str) else "fixed"
    extra = {}
    t0, c0 = time.perf_counter(), time.process_time()
    fit_idx = train if rule in ("validation", "multistep") else np.concatenate([train, val])
    U, F, Y = _rows(data, fit_idx)
    H = jax.block_until_ready(hidden_matrix(cell, U, F, direct=direct, solver=solver))
    t1 = time.perf_counter()
    if rule in ("validation", "multistep"):
        Uv, Fv, Yv = _rows(data, val)
        Hv = hidden_matrix(cell, Uv, Fv, direct=direct, solver=solver)
        if rule == "validation":
            lam = select_lambda_validation(H, jnp.asarray(Y), Hv, jnp.asarray(Yv))
        else:
            grid, scores = multistep_scores(
                model, H, jnp.asarray(Y), Uv, Fv, jnp.asarray(Yv),
                autoregressive=data.autoregressive, horizon=horizon, solver=solver,
            )  # fmt: skip
            if not np.any(np.isfinite(scores)):
                raise ValueError("the closed loop went non-finite for every candidate λ.")
            lam = float(grid[int(np.argmin(scores))])
            extra = {"lam_grid": grid.tolist(), "lam_scores": scores.tolist()}
        H, Y = jnp.concatenate([H, Hv]), np.concatenate([Y, Yv])
    beta, intercept, info = ridge(H, jnp.asarray(Y), lam, method=s.method)
    jax.block_until_ready(beta)
    t2, c2 = time.perf_counter(), time.process_time()
    model = eqx.tree_at(lambda m: (m.beta, m.intercept), model, (beta, intercept))
    info = {
        **info,
        "lam_rule": rule,
        **extra,
        "hidden_seconds": t1 - t0,
        "solve_seconds": t2 - t1,
        "train_seconds": t2 - t0,
        "cpu_seconds": c2 - c0,
        "rows": int(H.shape[0]),
        "features": int(H.shape[1]),
    }
    return model, info


def predict(
    model: RecurrentModel,
    inputs: Float[Array, "B w D"],
    feedback: Float[Array, "B w K"] | None = None,
    *,
    first_feedback: Float[Array, "B K"] | None = None,
    solver: AbstractSolver = Sequential(),
    bounded: bool = True,
) -> Float[Array, "B K"]:
    """One prediction per standardised window, in standardised units.

    With `feedback` (the observed previous outputs) the prediction is one-step-ahead with
    teacher forcing. Without it, Jordan/NARMAX/fully connected cells run closed loop inside
    the window: they feed back their own outputs (starting from `first_feedback`, default
    zero), which is how they run when no outputs are observed; with `bounded=True` each
    fed-back prediction is clipped to `model.bounds` first.
    """
    if feedback is not None or not uses_feedback(model.cell):
        return model.predict_normalised(inputs, feedback, solver=solver)
    if first_feedback is None:
        first_feedback = jnp.zeros((inputs.shape[0], model.beta.shape[1]), inputs.dtype)
    return closed_loop_outputs(
        model.cell, model.beta, model.intercept, inputs, first_feedback,
        direct=model.direct, solver=solver, bounds=model.bounds if bounded else None,
    )  # fmt: skip
