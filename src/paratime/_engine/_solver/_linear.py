"""Exact evaluation of linear cells by one associative scan."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._adjoints import AbstractAdjoint, AutodiffAdjoint, or_default
from .._scan import linear_recurrence
from .._solution import SolveResult
from ._abstract import AbstractSolver
from ._hints import ELK, QUASI_DEER, try_instead
from ._sequential import finite_result


class LinearScan(AbstractSolver):
    """Solve a cell that is linear and diagonal in its state (`AbstractLinearCell`: LRU, minGRU)
    exactly, with one `linear_recurrence`. `Auto()` picks it for such cells.

    **Example:**

    ```python
    sol = paratime.unroll(paratime.cells.MinGRU(3, 8, key=key), h0, xs,
                          solver=paratime.LinearScan())
    ```
    """

    adjoint: AbstractAdjoint = eqx.field(
        default=AutodiffAdjoint(), converter=or_default(AutodiffAdjoint()), kw_only=True
    )

    def hint(self, result):
        return try_instead(result, ELK, QUASI_DEER)

    def solve(self, cell, h0, xs, guess):
        from .._cell import AbstractLinearCell

        if not isinstance(cell.cell, AbstractLinearCell):
            raise ValueError(
                "`solver=LinearScan()` needs a `cell` that subclasses "
                f"`paratime.cells.AbstractLinearCell`; got {type(cell.cell).__name__}."
            )
        a, b = jax.vmap(cell.cell.coefficients)(xs)
        states = linear_recurrence(a, b, h0)
        zero = jnp.zeros((), jnp.abs(h0).dtype)
        stats = {"num_steps": jnp.array(1), "residual": zero}
        return SolveResult(states, finite_result(states), stats)
