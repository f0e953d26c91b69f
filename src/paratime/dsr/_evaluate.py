"""Evaluate a trained DSR model on a test series: D_stsp, D_H, PE(n) and λ_max."""

import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..data import check_series
from ..train import atomic_open
from . import metrics

BURN_IN = 50


@eqx.filter_jit
def _free_run(model: Any, context: Array, steps: int) -> Array:
    return model.predict(context, steps)


@eqx.filter_jit
def _forecasts(model: Any, windows: Array, n: int) -> Array:
    return jax.vmap(lambda w: model.predict(w, n))(windows)


class NonFiniteTrajectoryError(FloatingPointError):
    """A free-running trajectory that became NaN or Inf (the model's dynamics diverged).

    **Attributes:**

    - `step`: the first time step (0-based) holding a NaN or Inf.
    - `steps`: the length of the requested trajectory.
    - `path`: the output file that was *not* written, or `None`.
    """

    def __init__(self, step: int, steps: int, path: str | os.PathLike | None = None):
        self.step, self.steps = step, steps
        self.path = None if path is None else Path(path)
        where = "" if path is None else f"; nothing was written to {str(path)!r}"
        super().__init__(
            f"the generated trajectory is non-finite (NaN or Inf) from step {step} of {steps} "
            f"on{where}. The model's free run diverges from this start: try another context "
            "(x0), fewer steps, or a model trained longer or with a smaller learning rate."
        )


def _first_nonfinite(x: np.ndarray) -> int | None:
    bad = ~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def _data_size(model: Any) -> int | None:
    """The observation dimension d a model expects, when it can be read off the model."""
    obs = getattr(model, "observation", None)
    data_size = getattr(obs, "data_size", None)
    if isinstance(data_size, int):
        return data_size
    B = getattr(obs, "B", None)
    if B is not None:
        return int(B.shape[0])
    lru = getattr(model, "lru", None)
    if lru is not None:
        return int(lru.D.shape[0])
    return None


def generate(
    model: Any,
    context: Float[ArrayLike, "W d"],
    steps: int,
    *,
    check_finite: bool = True,
    out: str | os.PathLike | None = None,
) -> Float[np.ndarray, "steps d"]:
    """A free-running trajectory of `steps` observations after reading `context`.

    **Arguments:**

    - `model`: a trained `DSRModel` or `LinearSSM`.
    - `context`: observations `(W, d)`, W >= 1, that set the initial latent state (the
        latent state is forced onto them, so unobserved units settle).
    - `steps`: the length of the trajectory, an int >= 1.
    - `check_finite`: raise `NonFiniteTrajectoryError` if the trajectory holds NaN or Inf.
    - `out`: if given, a `.npy` file to write the trajectory to (as float32), atomically and
        only when it is finite: a failed or interrupted run leaves no partial file.

    **Returns:**

    The trajectory, shape `(steps, d)`.

    **Raises:**

    `TypeError`/`ValueError` naming `steps` or `context` for a bad argument;
    `NonFiniteTrajectoryError` (a `FloatingPointError`) with the first non-finite step, if
    the free run diverges (always when `out` is given).
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise TypeError(f"`steps` must be a positive int; got {steps!r}.")
    if steps < 1:
        raise ValueError(f"`steps` must be a positive int (>= 1); got {steps}.")
    ctx = jnp.asarray(context)
    d = _data_size(model)
    if ctx.ndim != 2 or ctx.shape[0] < 1 or (d is not None and ctx.shape[1] != d):
        want = f"(W, {d})" if d is not None else "(W, d)"
        raise ValueError(
            f"`context` must have shape {want} with W >= 1 observations; got shape {ctx.shape}."
        )
    if not jnp.issubdtype(ctx.dtype, jnp.floating):
        ctx = ctx.astype(jnp.result_type(float))
    bad = _first_nonfinite(np.asarray(ctx))
    if bad is not None:
        raise ValueError(f"`context` holds NaN or Inf at row {bad}; it must be finite.")
    traj = np.asarray(_free_run(model, ctx, int(steps)))
    with np.errstate(over="ignore"):  # values beyond float32 become Inf, reported below
        saved = traj.astype(np.float32) if out is not None else traj
    if check_finite or out is not None:
        bad = _first_nonfinite(saved)
        if bad is not None:
            raise NonFiniteTrajectoryError(bad, int(steps), out)
    if out is not None:
        with atomic_open(out) as f:
            np.save(f, saved)
    return traj


def prediction_error_n(
    model: Any, test: Float[ArrayLike, "T d"], n: int = 20, *, context: int = BURN_IN
) -> float:
    """PE(n) of `model` on `test` (`metrics.prediction_error`, 1 000 evenly spaced starts).

    Each forecast reads `context + 1` observations (the latent state is forced onto them,
    so unobserved units settle) and then runs freely for `n` steps.
    """
    dtype = jnp.asarray(test).dtype
    predict = lambda w, k: _forecasts(model, jnp.asarray(w, dtype), k)
    return float(metrics.prediction_error(predict, np.asarray(test), n, context=context))


PROTOCOLS = ("burn-in", "gtf")


def gtf_free_run(model: Any, test: Float[np.ndarray, "T d"]) -> np.ndarray:
    """The GTF code's evaluation run: from the latent state its first observation implies
    (`observation.initial_state(test[0])`, no burn-in), 1.25 T steps, of which the first
    0.25 T are dropped as a transient; returns the last T observations."""
    if not hasattr(model, "observation"):
        raise ValueError("`protocol='gtf'` needs a DSRModel (a latent model with an observation).")
    T = test.shape[0]
    x0 = jnp.asarray(test[0])
    run = np.asarray(_gtf_run(model, x0, T + T // 4))
    return run[T // 4 :]


@eqx.filter_jit
def _gtf_run(model: Any, x0: Array, steps: int) -> Array:
    z0 = model.observation.initial_state(x0)
    return jnp.concatenate([x0[None], model.generate(z0, steps - 1)], axis=0)


def evaluate(
    model: Any,
    test: Float[Array, "T d"],
    *,
    pe_steps: int = 20,
    lyapunov: bool = True,
    protocol: str = "burn-in",
) -> tuple[dict[str, float], np.ndarray]:
    """The field's metrics of `model` on a test series.

    A free-running trajectory as long as `test` is compared with it by D_stsp and D_H; PE(n)
    uses n-step forecasts from the data. `protocol="burn-in"` (the default) generates it
    after a forced burn-in on the test set's first `BURN_IN + 1` steps; `"gtf"` as the GTF
    code does: from the test set's first point alone, 1.25 T steps with the first 0.25 T
    dropped (`gtf_free_run`).

    **Arguments:**

    - `model`: a trained `DSRModel` or `LinearSSM`.
    - `test`: the test series, shape (T, d), T > 100.
    - `pe_steps`: n in PE(n).
    - `lyapunov`: also estimate the maximal Lyapunov exponent of the model's latent map
        (`DSRModel` only; per time step, over 10 000 steps) and of the test data.
    - `protocol`: `"burn-in"` or `"gtf"`, how the free run starts (above).

    **Returns:**

    `(metrics, x_gen)`: a dict with `D_stsp`, `D_H`, `PE{n}` (and `lambda_max`,
    `lambda_max_data` when computed), and the generated trajectory.
    """
    test_np = check_series(np.asarray(test), name="`test`")
    if isinstance(pe_steps, bool) or not isinstance(pe_steps, int) or pe_steps < 1:
        raise ValueError(f"`pe_steps` must be a positive int; got {pe_steps!r}.")
    if test_np.shape[0] <= BURN_IN + pe_steps:
        raise ValueError(
            f"`test` has {test_np.shape[0]} time steps; evaluation needs more than "
            f"{BURN_IN + pe_steps} (a burn-in of {BURN_IN} plus pe_steps={pe_steps})."
        )
    if protocol not in PROTOCOLS:
        raise ValueError(f"`protocol` must be one of {', '.join(PROTOCOLS)}; got {protocol!r}.")
    if protocol == "gtf":
        x_gen = gtf_free_run(model, test_np)
    else:
        x_gen = generate(model, test_np[: BURN_IN + 1], test_np.shape[0], check_finite=False)
    out = {
        "D_stsp": float(metrics.state_space_divergence(test_np, x_gen)),
        "D_H": float(metrics.power_spectrum_distance(test_np, x_gen)),
        f"PE{pe_steps}": prediction_error_n(model, test_np, pe_steps),
    }
    if not np.all(np.isfinite(x_gen)):
        out["generated_nonfinite"] = 1.0
    if lyapunov and hasattr(model, "cell"):
        z0 = model.infer_state(jnp.asarray(test_np[: BURN_IN + 1]))
        out["lambda_max"] = float(metrics.max_lyapunov_exponent(model.step_fn(), z0, 10_000))
        # without return_curve the estimate is a float; the declared return type is the union
        lam_data = metrics.data_lyapunov_exponent(test_np)
        out["lambda_max_data"] = float(lam_data)  # pyright: ignore[reportArgumentType]
    return out, x_gen
