"""A recurrent cell with a linear readout, the data it is fitted on, and ELM training."""

import time
from typing import Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._solver import AbstractSolver, Sequential
from ._cells import canonical_arch, make_cell, uses_feedback
from ._data import Task, split_windows, windows
from ._hidden import closed_loop_outputs, hidden_matrix
from ._lstsq import ridge, select_lambda_validation


class RecurrentModel(eqx.Module):
    """A recurrent cell followed by a linear readout, working on standardised data.

    ŷ = β·[h_w, direct inputs] + b, where h_w is the hidden layer after the window. `fit`
    (ELM) solves β with the cell frozen; `fit_bptt` trains every weight. Inputs are
    standardised with `(in_mean, in_std)` and outputs with `(out_mean, out_std)`.
    """

    cell: eqx.Module
    beta: Float[Array, "F K"]
    intercept: Float[Array, " K"]
    arch: str = eqx.field(static=True)
    window: int = eqx.field(static=True)
    direct: bool = eqx.field(static=True)
    in_mean: tuple[float, ...] = eqx.field(static=True)
    in_std: tuple[float, ...] = eqx.field(static=True)
    out_mean: tuple[float, ...] = eqx.field(static=True)
    out_std: tuple[float, ...] = eqx.field(static=True)

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

    def predict_normalised(self, inputs, feedback=None, *, solver=Sequential()):
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
    *,
    arch: str = "gru",
    hidden: int = 100,
    key: PRNGKeyArray,
    lam: float | int | Literal["gcv", "validation"] = "gcv",
    method: str = "qr",
    direct: bool = True,
    solver: AbstractSolver = Sequential(),
    **cell_options,
) -> tuple[RecurrentModel, dict]:
    """Train a recurrent network as an ELM: random frozen cell, β by ridge least squares.

    Jordan, NARMAX and fully connected cells are trained with teacher forcing: the observed
    previous outputs are fed back, so H does not depend on β and one least-squares solve
    suffices.

    **Arguments:**

    - `data`: from `prepare`.
    - `arch`, `hidden`: architecture (see `ARCHITECTURES`) and number of hidden units.
    - `key`: PRNG key of the random weights.
    - `lam`: ridge λ, `"gcv"` (generalised cross-validation on the training windows) or
        `"validation"` (the λ with the best RMSE on the validation windows).
    - `method`: `"qr"`, `"cholesky"` or `"svd"` (see `ridge`).
    - `direct`: direct input-to-output links.
    - `solver`: the `paratime` solver used to build H (vmap over windows, unroll inside).
    - `**cell_options`: passed to `make_cell` (`spectral_radius`, `input_scaling`, ...).

    **Returns:**

    `(model, info)`; `info` has `lam`, `condition_number`, `hidden_seconds`,
    `solve_seconds`, `train_seconds` (their sum; wall time, including compilation on the
    first call) and `cpu_seconds` (process CPU time over the same span).

    **Example:**

    ```python
    task = paratime.elm.autoregressive_task(paratime.data.load("santafe"))
    data = paratime.elm.prepare(task, window=20)
    model, info = paratime.elm.fit(data, arch="gru", hidden=100, key=jax.random.key(0))
    ```
    """
    arch = canonical_arch(arch)
    D, K = data.inputs.shape[-1], data.targets.shape[-1]
    dtype = data.inputs.dtype
    cell = make_cell(arch, D, hidden, output_size=K, key=key, dtype=dtype, **cell_options)
    train, val, _ = data.split
    fit_idx = train if lam == "validation" else np.concatenate([train, val])
    t0, c0 = time.perf_counter(), time.process_time()
    U, F, Y = _rows(data, fit_idx)
    H = jax.block_until_ready(hidden_matrix(cell, U, F, direct=direct, solver=solver))
    t1 = time.perf_counter()
    if lam == "validation":
        if len(val) < 1:
            raise ValueError("`lam='validation'` needs a validation part: val_fraction > 0.")
        Uv, Fv, Yv = _rows(data, val)
        Hv = hidden_matrix(cell, Uv, Fv, direct=direct, solver=solver)
        lam = select_lambda_validation(H, jnp.asarray(Y), Hv, jnp.asarray(Yv))
        H, Y = jnp.concatenate([H, Hv]), np.concatenate([Y, Yv])
    beta, intercept, info = ridge(H, jnp.asarray(Y), lam, method=method)
    jax.block_until_ready(beta)
    t2, c2 = time.perf_counter(), time.process_time()
    model = RecurrentModel(
        cell, beta, intercept, arch, data.window, direct,
        data.in_mean, data.in_std, data.out_mean, data.out_std,
    )  # fmt: skip
    info = {
        **info,
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
) -> Float[Array, "B K"]:
    """One prediction per standardised window, in standardised units.

    With `feedback` (the observed previous outputs) the prediction is one-step-ahead with
    teacher forcing. Without it, Jordan/NARMAX/fully connected cells run closed loop inside
    the window: they feed back their own outputs (starting from `first_feedback`, default
    zero), which is how they run when no outputs are observed.
    """
    if feedback is not None or not uses_feedback(model.cell):
        return model.predict_normalised(inputs, feedback, solver=solver)
    if first_feedback is None:
        first_feedback = jnp.zeros((inputs.shape[0], model.beta.shape[1]), inputs.dtype)
    return closed_loop_outputs(
        model.cell, model.beta, model.intercept, inputs, first_feedback,
        direct=model.direct, solver=solver,
    )  # fmt: skip


@eqx.filter_jit
def forecast(
    model: RecurrentModel,
    context: Float[Array, "B w D"],
    steps: int,
    *,
    solver: AbstractSolver = Sequential(),
) -> Float[Array, "B steps D"]:
    """Closed-loop multi-step forecast of an autoregressive model (standardised units).

    Each prediction is appended to the window and becomes the next input; for Jordan,
    NARMAX and fully connected cells it is also the fed-back output (observed values are
    fed back where they exist, the model's predictions after that).
    """
    if steps < 1:
        raise ValueError(f"`steps` must be >= 1; got {steps}.")

    def step(buf, _):
        y = model.predict_normalised(buf, buf, solver=solver)
        return jnp.concatenate([buf[:, 1:], y[:, None]], axis=1), y

    _, ys = jax.lax.scan(step, context, None, length=steps)
    return jnp.swapaxes(ys, 0, 1)
