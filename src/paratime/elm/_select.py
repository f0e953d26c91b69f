"""Choosing the ridge λ on the closed-loop (multi-step) error of a validation segment."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._engine import AbstractSolver, Sequential
from ._cells import uses_feedback
from ._forecast import forecast
from ._hidden import closed_loop_outputs
from ._lstsq import lambda_grid, ridge_path, select_lambda_gcv, spectrum

MULTISTEP_GRID: int = 31
"""Candidate λ for `lam="multistep"`: this many, log-spaced over `lambda_grid`'s range (those
at or above the GCV choice are kept)."""


def _nrmse(pred, true):
    """NRMSE per leading index (standardised units; column std of `true`); inf if not finite."""
    err = (pred - true[None]).reshape(pred.shape[0], -1, true.shape[-1])
    std = jnp.std(true.reshape(-1, true.shape[-1]), axis=0)
    std = jnp.where(std > 0, std, 1.0)
    score = jnp.sqrt(jnp.mean((err / std) ** 2, axis=(1, 2)))
    return jnp.where(jnp.isfinite(score), score, jnp.inf)


def origins(num_windows: int, horizon: int, max_origins: int) -> np.ndarray:
    """Up to `max_origins` evenly spaced window indices with `horizon` windows after them."""
    last = num_windows - horizon
    if last < 0:
        raise ValueError(
            f"a {horizon}-step forecast needs at least {horizon} windows; the part has "
            f"{num_windows}. Use a smaller `horizon` or a larger split."
        )
    return np.unique(np.linspace(0, last, min(max_origins, last + 1)).astype(int))


@eqx.filter_jit
def _scores_autoregressive(model, betas, intercepts, context, truth, horizon: int, solver):
    def one(beta, intercept):
        m = eqx.tree_at(lambda m: (m.beta, m.intercept), model, (beta, intercept))
        return forecast(m, context, horizon, solver=solver).values

    return _nrmse(jax.vmap(one)(betas, intercepts), truth)


@eqx.filter_jit
def _scores_free_run(model, betas, intercepts, inputs, first_feedback, truth, solver):
    def one(beta, intercept):
        return closed_loop_outputs(
            model.cell, beta, intercept, inputs, first_feedback, direct=model.direct,
            solver=solver, bounds=model.bounds,
        )  # fmt: skip

    return _nrmse(jax.vmap(one)(betas, intercepts), truth)


def multistep_scores(
    model,
    H_train: Float[Array, "n p"],
    Y_train: Float[Array, "n k"],
    inputs: Float[Array, "m w D"],
    feedback: Float[Array, "m w K"],
    targets: Float[Array, "m K"],
    *,
    autoregressive: bool,
    horizon: int = 20,
    max_origins: int = 32,
    lams=None,
    at_least_gcv: bool = True,
    solver: AbstractSolver = Sequential(),
) -> tuple[Float[np.ndarray, " L"], Float[np.ndarray, " L"]]:
    """The closed-loop validation NRMSE of the ridge readout for each λ.

    The readout is solved on `(H_train, Y_train)` for every λ at once (`ridge_path`). It is
    then run closed loop on the consecutive validation windows `(inputs, feedback,
    targets)`: for an autoregressive task, forecasts `horizon` steps ahead from up to
    `max_origins` evenly spaced origins, clipped to `model.bounds` as `forecast` does; for an
    input-output task with output feedback, the free run of each window; otherwise the
    one-step prediction. A λ whose loop goes non-finite scores inf.

    The default candidates are the λ that GCV picks for the one-step fit and the
    `MULTISTEP_GRID` grid values above it (`at_least_gcv=True`): the closed loop may ask for
    more shrinkage than the one-step fit, never for less. A smaller λ fits the training
    windows more closely than GCV thinks generalises, and on short validation segments
    (tens of windows) the multi-step score is too noisy to overrule that.

    **Returns:**

    `(lams, scores)`: the candidate λ and the NRMSE of each, in standardised units.
    """
    if lams is None:
        spec = spectrum(H_train, Y_train)
        lams = lambda_grid(spec, MULTISTEP_GRID)
        if at_least_gcv:
            lam_gcv = select_lambda_gcv(spec)
            lams = np.concatenate([[lam_gcv], lams[lams > lam_gcv]])
    lams, betas, intercepts = ridge_path(H_train, Y_train, lams)
    inputs, feedback = jnp.asarray(inputs), jnp.asarray(feedback)
    targets = jnp.asarray(targets)
    if autoregressive:
        horizon = int(min(horizon, len(targets)))
        starts = origins(len(targets), horizon, max_origins)
        truth = jnp.stack([targets[o : o + horizon] for o in starts])
        scores = _scores_autoregressive(
            model, betas, intercepts, inputs[starts], truth, horizon, solver
        )
    elif uses_feedback(model.cell):
        scores = _scores_free_run(model, betas, intercepts, inputs, feedback[:, 0], targets, solver)
    else:
        H = model.hidden(inputs, feedback, solver=solver)
        scores = _nrmse(jnp.einsum("mp,lpk->lmk", H, betas) + intercepts[:, None], targets)
    return np.asarray(lams), np.asarray(scores)
