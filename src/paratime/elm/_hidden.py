"""The hidden-state matrix H, built in parallel: vmap over windows, `unroll` inside each."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._engine import AbstractCell, AbstractSolver, Sequential, unroll
from ._cells import direct_inputs, uses_feedback


def _last(tree):
    return jax.tree_util.tree_map(lambda s: s[-1], tree)


def _row(cell: AbstractCell, state, u_last, direct: bool):
    f = cell.output(state)
    return jnp.concatenate([f, direct_inputs(cell, state, u_last)]) if direct else f


@eqx.filter_jit
def hidden_matrix(
    cell: AbstractCell,
    inputs: Float[Array, "B w D"],
    feedback: Float[Array, "B w K"] | None = None,
    *,
    direct: bool = True,
    solver: AbstractSolver = Sequential(),
) -> Float[Array, "B F"]:
    """One row of hidden features per window, under teacher forcing.

    Every window starts from the zero state; `paratime.unroll(cell, h0, window, solver=...)`
    computes its T states (in parallel over time with DEER/QuasiDEER/ELK) and `jax.vmap` runs
    all windows at once. The row is the hidden layer at the window's last step, followed by
    the direct input-to-output links when `direct=True`.

    **Arguments:**

    - `cell`: an ELM cell (see `make_cell`).
    - `inputs`: the input windows.
    - `feedback`: the observed previous outputs y_{t-1} for each window step (teacher
        forcing); needed by Jordan, NARMAX and fully connected cells, ignored by the rest.
    - `direct`: append the direct links (the last input; all input lags for NARMAX).
    - `solver`: the `paratime` solver used inside each window.

    **Returns:**

    H with one row per window.
    """
    if inputs.ndim != 3:
        raise ValueError(f"`inputs` must have shape (windows, window, D); got {inputs.shape}.")
    needs_fb = uses_feedback(cell)
    if needs_fb and feedback is None:
        raise ValueError(f"{type(cell).__name__} feeds outputs back: pass `feedback`.")
    if not needs_fb or feedback is None:
        feedback = jnp.zeros(inputs.shape[:2] + (0,), inputs.dtype)

    def one(u, fb):
        xs = (u, fb) if needs_fb else u
        states = unroll(cell, cell.init_state(), xs, solver=solver).states
        return _row(cell, _last(states), u[-1], direct)

    return jax.vmap(one)(inputs, feedback)


class ClosedLoop(eqx.Module):
    """A cell that feeds back its own readout: the state is `(cell state, ŷ_{t-1})` and the
    step is ŷ_t = β·row(h_t) + b with h_t = cell(h_{t-1}, (u_t, ŷ_{t-1})).

    This is how a Jordan/NARMAX/fully connected ELM runs after training. The recurrence now
    depends on β, and `paratime.unroll` solves it like any other nonlinear cell. With
    `lower`/`upper` the readout is clipped to that range before it is fed back, which keeps
    the loop in the data range.
    """

    cell: AbstractCell
    beta: Float[Array, "F K"]
    intercept: Float[Array, " K"]
    direct: bool = eqx.field(static=True)
    lower: Float[Array, " K"] | None = None
    upper: Float[Array, " K"] | None = None

    def __call__(self, state, u):
        inner, y_prev = state
        inner = self.cell(inner, (u, y_prev))
        y = _row(self.cell, inner, u, self.direct) @ self.beta + self.intercept
        if self.lower is not None and self.upper is not None:
            y = jnp.clip(y, self.lower, self.upper)
        return inner, y


@eqx.filter_jit
def closed_loop_outputs(
    cell: AbstractCell,
    beta: Float[Array, "F K"],
    intercept: Float[Array, " K"],
    inputs: Float[Array, "B w D"],
    first_feedback: Float[Array, "B K"],
    *,
    direct: bool = True,
    solver: AbstractSolver = Sequential(),
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> Float[Array, "B K"]:
    """The last-step output of each window when the cell feeds back its own predictions
    (`first_feedback` is the observed y_{-1} before the window). With `bounds`
    (`(lower, upper)` per output) every fed-back prediction is clipped to that range."""
    lo, hi = (None, None) if bounds is None else (jnp.asarray(b, beta.dtype) for b in bounds)
    loop = ClosedLoop(cell, beta, intercept, direct, lo, hi)

    def one(u, y0):
        _, ys = unroll(loop, (cell.init_state(), y0), u, solver=solver).states
        return ys[-1]

    return jax.vmap(one)(inputs, first_feedback)
