"""Evaluate a trained DSR model on a test series: D_stsp, D_H, PE(n) and λ_max."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from . import metrics

BURN_IN = 50


@eqx.filter_jit
def _free_run(model: Any, context: Array, steps: int) -> Array:
    return model.predict(context, steps)


@eqx.filter_jit
def _forecasts(model: Any, test: Array, starts: Array, context: int, n: int) -> Array:
    def one(t):
        window = jax.lax.dynamic_slice_in_dim(test, t - context, context + 1)
        return model.predict(window, n)

    return jax.vmap(one)(starts)


def generate(
    model: Any, context: Float[Array, "W d"], steps: int
) -> Float[np.ndarray, "steps d"]:
    """A free-running trajectory of `steps` observations after reading `context`."""
    return np.asarray(_free_run(model, jnp.asarray(context), steps))


def prediction_error_n(
    model: Any,
    test: Float[Array, "T d"],
    n: int = 20,
    *,
    num_starts: int = 1000,
    context: int = BURN_IN,
) -> float:
    """PE(n): the mean squared error of the n-step-ahead forecast, over evenly spaced starts.

    Each forecast reads `context + 1` observations (the latent state is forced onto them) and
    then runs freely for `n` steps; the error is that of the n-th step, averaged over starts and
    dimensions.
    """
    test = jnp.asarray(test)
    last = test.shape[0] - n - 1
    if last <= context:
        raise ValueError(f"the test series is too short for PE({n}) with {context} burn-in.")
    starts = jnp.linspace(context, last, min(num_starts, last - context + 1)).astype(int)
    pred = _forecasts(model, test, starts, context, n)
    true = jax.vmap(lambda t: jax.lax.dynamic_slice_in_dim(test, t + 1, n))(starts)
    return float(metrics.prediction_error(np.asarray(true[:, -1]), np.asarray(pred[:, -1])))


def evaluate(
    model: Any, test: Float[Array, "T d"], *, pe_steps: int = 20, lyapunov: bool = True
) -> tuple[dict[str, float], np.ndarray]:
    """The field's metrics of `model` on a test series.

    A free-running trajectory as long as `test` is generated after a burn-in on its first
    steps; D_stsp and D_H compare it with `test`; PE(n) uses n-step forecasts from the data.

    **Arguments:**

    - `model`: a trained `DSRModel` or `LinearSSM`.
    - `test`: the test series, shape (T, d), T > 100.
    - `pe_steps`: n in PE(n).
    - `lyapunov`: also estimate the maximal Lyapunov exponents of the model (latent map,
        `DSRModel` only) and of the data's generated trajectory.

    **Returns:**

    `(metrics, x_gen)`: a dict with `D_stsp`, `D_H`, `PE{n}` (and `lambda_max` when
    computed), and the generated trajectory.
    """
    test = np.asarray(test)
    x_gen = generate(model, test[: BURN_IN + 1], test.shape[0])
    out = {
        "D_stsp": float(metrics.state_space_divergence(test, x_gen)),
        "D_H": float(metrics.power_spectrum_distance(test, x_gen)),
        f"PE{pe_steps}": prediction_error_n(model, test, pe_steps),
    }
    if not np.all(np.isfinite(x_gen)):
        out["generated_nonfinite"] = 1.0
    if lyapunov and hasattr(model, "cell"):
        z0 = model.infer_state(jnp.asarray(test[: BURN_IN + 1]))
        out["lambda_max"] = float(metrics.max_lyapunov_exponent(model.step_fn(), z0))
    return out, x_gen
