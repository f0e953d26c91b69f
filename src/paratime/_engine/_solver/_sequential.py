"""The exact reference: a sequential `lax.scan`."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._adjoints import AbstractAdjoint, AutodiffAdjoint, or_default
from .._cell import AbstractCell, scan_cell
from .._flat import FlatCell
from .._solution import RESULTS, SolveResult
from ._abstract import AbstractSolver
from ._hints import ELK, try_instead


def scan_states(cell: FlatCell, h0, xs, *, cell_loop: bool = True):
    """h_1..h_T, shape (T, N), one step after another, of a flat cell.

    The loop carries the cell's own state PyTree (e.g. the LSTM's (h, c)) and flattens the
    trajectory once at the end: flattening inside the loop would copy the state every step.
    With `cell_loop`, an `AbstractCell`'s own `trajectory` (e.g. the LSTM's faster loop) gives
    the states where they are not differentiated; where they are, or without `cell_loop`, a
    `lax.scan` of `__call__` gives values and derivatives, as for any other callable."""
    state = cell.state
    h0 = state.unravel(h0)
    if cell_loop and isinstance(cell.cell, AbstractCell):
        return state.ravel_trajectory(_trajectory(cell.cell, h0, xs))
    return state.ravel_trajectory(scan_cell(cell.cell, h0, xs))


@eqx.filter_custom_jvp
def _trajectory(cell, h0, xs):
    return cell.trajectory(h0, xs)


@_trajectory.def_jvp
def _trajectory_jvp(primals, tangents):
    # Symbolic zeros (None) of arrays that are not differentiated become explicit zeros.
    zero = lambda p, t: jnp.zeros_like(p) if t is None and eqx.is_inexact_array(p) else t  # noqa: E731
    tangents = jax.tree_util.tree_map(zero, primals, tangents)
    return eqx.filter_jvp(scan_cell, primals, tangents)


class Sequential(AbstractSolver):
    """Evaluate the recurrence one step after another with `lax.scan`.

    Exact, O(T) depth, and O(T·N) memory for the states. Gradients are ordinary
    backpropagation through time. On a CPU this is usually the fastest method.

    **Arguments:**

    - `check_finite`: report `RESULTS.nonfinite` (with `throw=True`: raise, naming the input
        that holds a NaN or Inf) when some state is not finite. Off by default: the result
        code alone is one reduction over the states (within timing noise), but with
        `throw=True` the run-time check it enables cost up to 2× on small training steps
        (see docs/solvers.md).
    - `adjoint`: how gradients are computed: `AutodiffAdjoint()` (default: backpropagation
        through the scan), `ImplicitAdjoint()` (one reverse linear recurrence with the cell's
        analytic Jacobians; several times faster on a CPU for small states) or
        `IterativeAdjoint()` (O(T·N) memory).
    - `cell_loop`: evaluate a single sequence with the cell's own `trajectory`, where it has
        one (the LSTM's is faster on a CPU) and the states are not differentiated. `unroll`
        turns it off inside `jax.vmap`, where the plain scan batches better.

    **Example:**

    ```python
    sol = paratime.unroll(cell, h0, xs, solver=paratime.Sequential())
    implicit = paratime.Sequential(adjoint=paratime.ImplicitAdjoint())
    ```
    """

    cell_loop: bool = eqx.field(default=True, static=True, kw_only=True)
    check_finite: bool = eqx.field(default=False, static=True, kw_only=True)
    adjoint: AbstractAdjoint = eqx.field(
        default=AutodiffAdjoint(), converter=or_default(AutodiffAdjoint()), kw_only=True
    )

    def hint(self, result):
        # (It fails only on a non-finite state, with `check_finite`.)
        return try_instead(result, ELK, exact=False)

    def solve(self, cell, h0, xs, guess):
        states = scan_states(cell, h0, xs, cell_loop=self.cell_loop)
        zero = jnp.zeros((), states.real.dtype)
        result = finite_result(states) if self.check_finite else RESULTS.successful
        return SolveResult(states, result, {"num_steps": jnp.array(0), "residual": zero})


def finite_result(states: Array) -> RESULTS:
    """`nonfinite` if any state is NaN or Inf (one fused reduction over the states)."""
    return RESULTS.where(jnp.all(jnp.isfinite(states)), RESULTS.successful, RESULTS.nonfinite)
