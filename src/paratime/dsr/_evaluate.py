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
def _forecasts(model: Any, windows: Array, n: int) -> Array:
    return jax.vmap(lambda w: model.predict(w, n))(windows)


def generate(model: Any, context: Float[Array, "W d"], steps: int) -> Float[np.ndarray, "steps d"]:
    """A free-running trajectory of `steps` observations after reading `context`."""
    return np.asarray(_free_run(model, jnp.asarray(context), steps))


def prediction_error_n(
    model: Any, test: Float[Array, "T d"], n: int = 20, *, context: int = BURN_IN
) -> float:
    """PE(n) of `model` on `test` (`metrics.prediction_error`, 1 000 evenly spaced starts).

    Each forecast reads `context + 1` observations (the latent state is forced onto them,
    so unobserved units settle) and then runs freely for `n` steps.
    """
    dtype = jnp.asarray(test).dtype
    predict = lambda w, k: _forecasts(model, jnp.asarray(w, dtype), k)
    return float(metrics.prediction_error(predict, np.asarray(test), n, context=context))


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
    - `lyapunov`: also estimate the maximal Lyapunov exponent of the model's latent map
        (`DSRModel` only; per time step, over 10 000 steps) and of the test data.

    **Returns:**

    `(metrics, x_gen)`: a dict with `D_stsp`, `D_H`, `PE{n}` (and `lambda_max`,
    `lambda_max_data` when computed), and the generated trajectory.
    """
    test_np = np.asarray(test)
    x_gen = generate(model, test_np[: BURN_IN + 1], test_np.shape[0])
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
        out["lambda_max_data"] = float(metrics.data_lyapunov_exponent(test_np))
    return out, x_gen
