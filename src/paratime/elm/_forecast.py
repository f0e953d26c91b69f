"""Closed-loop multi-step forecasts that stay in the data range, and that say when they fail."""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .._engine import AbstractSolver, Sequential

BOUNDS_MARGIN: float = 0.1
"""`fit` widens the training range of the outputs by this fraction of its width on each side
to get the bounds a closed-loop forecast is clipped to."""

FAR: float = 1.0
"""A forecast value more than `FAR` bound-widths outside the bounds counts as diverged."""

CONTEXT_MARGIN: float = 0.1
"""A forecast may also go this fraction of the bound width beyond its own context window, so
that a series that trends out of the training range (CO2) can continue its trend."""


class Forecast(NamedTuple):
    """The result of `forecast`.

    - `values`: the forecast, in standardised units (clipped to the model's bounds when
        `bounded=True`).
    - `diverged`: per origin, whether any returned value is NaN/Inf or more than `FAR`
        bound-widths outside the bounds (only NaN/Inf when the model has no bounds).
    - `clipped`: per origin, the number of steps at which the clip changed a prediction; a
        large count means the loop pushed against the data range.
    """

    values: Float[Array, "B steps K"]
    diverged: Bool[Array, " B"]
    clipped: Int[Array, " B"]


def output_bounds(
    targets: Float[np.ndarray, "n K"], margin: float = BOUNDS_MARGIN
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`(lower, upper)` per output: the range of `targets` widened by `margin` of its width
    on each side.

    **Raises:**

    `ValueError` for a negative `margin` or targets that are empty or not finite.
    """
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0; got {margin}.")
    t = np.asarray(targets, np.float64).reshape(-1, np.shape(targets)[-1])
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError("`targets` must be non-empty and finite to give output bounds.")
    lo, hi = t.min(axis=0), t.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)
    return tuple(map(float, lo - margin * width)), tuple(map(float, hi + margin * width))


def _bounds_arrays(bounds, dtype):
    if bounds is None:
        return None
    return jnp.asarray(bounds[0], dtype), jnp.asarray(bounds[1], dtype)


def context_bounds(
    bounds, context: Float[Array, "B w K"]
) -> tuple[Float[Array, "B 1 K"], Float[Array, "B 1 K"]] | None:
    """The bounds of each forecast: `bounds`, extended to `CONTEXT_MARGIN` bound-widths
    beyond the range of the forecast's own context window."""
    arrays = _bounds_arrays(bounds, context.dtype)
    if arrays is None:
        return None
    lo, hi = arrays
    pad = CONTEXT_MARGIN * (hi - lo)
    lo = jnp.minimum(lo, jnp.min(context, axis=1, keepdims=True) - pad)
    hi = jnp.maximum(hi, jnp.max(context, axis=1, keepdims=True) + pad)
    return lo, hi


def divergence(values: Float[Array, "B steps K"], bounds, far: float = FAR) -> Bool[Array, " B"]:
    """Per row of `values`: any entry NaN/Inf, or more than `far` bound-widths outside
    `bounds` (`(lower, upper)`, each per column or broadcastable to `values`; `None` for
    the NaN/Inf check alone)."""
    bad = ~jnp.isfinite(values)
    if bounds is not None:
        lo, hi = (jnp.asarray(b, values.dtype) for b in bounds)
        width = hi - lo
        bad = bad | (values < lo - far * width) | (values > hi + far * width)
    return jnp.any(bad, axis=tuple(range(1, values.ndim)))


@eqx.filter_jit
def forecast(
    model,
    context: Float[Array, "B w D"],
    steps: int,
    *,
    solver: AbstractSolver = Sequential(),
    bounded: bool = True,
) -> Forecast:
    """Closed-loop multi-step forecast of an autoregressive model (standardised units).

    Each prediction is appended to the window and becomes the next input; for Jordan,
    NARMAX and fully connected cells it is also the fed-back output (observed values are
    fed back where they exist, the model's predictions after that).

    **Arguments:**

    - `model`: a `RecurrentModel` of an autoregressive task.
    - `context`: the standardised windows the forecasts start from.
    - `steps`: how many steps to forecast.
    - `solver`: the `paratime` solver inside each window.
    - `bounded`: clip every prediction to `model.bounds` before it is fed back (when the
        model has bounds), extended to `CONTEXT_MARGIN` bound-widths beyond the context
        window's own range. This keeps the loop in the data range; see docs/elm.md for why
        an unclipped loop can blow up.

    **Returns:**

    A `Forecast`: `values` of shape (B, steps, K), and per origin `diverged` and `clipped`.

    **Raises:**

    `ValueError` if `steps` < 1.

    **Example:**

    ```python
    out = paratime.elm.forecast(model, data.inputs[-5:], 20)
    assert not out.diverged.any()
    ```
    """
    if steps < 1:
        raise ValueError(f"`steps` must be >= 1; got {steps}.")
    limits = context_bounds(model.bounds, context)
    clip = limits if bounded else None

    def step(buf, _):
        raw = model.predict_normalised(buf, buf, solver=solver)
        if clip is None:
            y, clipped = raw, jnp.zeros(raw.shape[0], bool)
        else:
            lo, hi = clip[0][:, 0], clip[1][:, 0]
            y, clipped = jnp.clip(raw, lo, hi), jnp.any((raw < lo) | (raw > hi), axis=-1)
        return jnp.concatenate([buf[:, 1:], y[:, None]], axis=1), (y, clipped)

    _, (ys, clipped) = jax.lax.scan(step, context, None, length=steps)
    values = jnp.swapaxes(ys, 0, 1)
    return Forecast(values, divergence(values, limits), jnp.sum(clipped, axis=0))
