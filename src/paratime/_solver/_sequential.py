"""The exact reference: a sequential `lax.scan`."""

from typing import ClassVar

import jax.lax as lax
import jax.numpy as jnp

from .._flat import FlatCell
from .._solution import RESULTS
from ._abstract import AbstractSolver, Adjoint


def scan_states(cell: FlatCell, h0, xs):
    """h_1..h_T, shape (T, N), by `lax.scan` of a flat cell.

    The scan carries the cell's own state PyTree (e.g. the LSTM's (h, c)) and flattens the
    trajectory once at the end: flattening inside the loop would copy the state every step."""
    state = cell.state

    def step(h, x):
        h = cell.cell(h, x)
        return h, h

    return state.ravel_trajectory(lax.scan(step, state.unravel(h0), xs)[1])


class Sequential(AbstractSolver):
    """Evaluate the recurrence one step after another with `lax.scan`.

    Exact, O(T) depth, and O(T·N) memory for the states. Gradients are ordinary
    backpropagation through time. On a CPU this is usually the fastest method.

    **Example:**

    ```python
    sol = paratime.unroll(cell, h0, xs, solver=paratime.Sequential())
    ```
    """

    adjoint: ClassVar[Adjoint] = "autodiff"

    def solve(self, cell, h0, xs, guess):
        states = scan_states(cell, h0, xs)
        zero = jnp.zeros((), states.real.dtype)
        return states, RESULTS.successful, {"num_steps": jnp.array(0), "residual": zero}
