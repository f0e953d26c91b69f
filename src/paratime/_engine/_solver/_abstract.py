"""The solver interface."""

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array, Inexact

from .._adjoints import AbstractAdjoint
from .._flat import FlatCell
from .._solution import RESULTS, SolveResult


class AbstractSolver(eqx.Module):
    """A method that computes the trajectory h_1..h_T of a recurrent cell.

    Solvers work on flattened states: `solve` receives a `FlatCell` (a map between vectors of
    length N with `value_and_jacobian` and `value_and_jacobian_diagonal`), the initial state of
    shape (N,), the inputs (any PyTree with a leading time axis) and an optional initial guess
    of shape (T, N).

    A solver is an `eqx.Module` with two methods and one field:

    - `solve(cell, h0, xs, guess) -> SolveResult`;
    - `hint(result) -> str`: what to try after `result` (a failure), named in the error that
        `unroll(..., throw=True)` raises; never the solver itself;
    - `adjoint`: how `unroll` differentiates the solution (the adjoint owns differentiation,
        see `paratime.AbstractAdjoint`): `AutodiffAdjoint()` (through the solver itself, e.g.
        `lax.scan`), `ImplicitAdjoint()` (one reverse linear recurrence with the transposed
        Jacobians in the cell's structure) or `IterativeAdjoint()` (the adjoint recurrence
        solved by quasi-Newton iterations preconditioned with a cheaper structure; O(T·N)
        memory). Both implicit adjoints are exact at the converged trajectory; they read the
        solve's `SolveResult.linearisation`, never the solver.
    """

    adjoint: eqx.AbstractVar[AbstractAdjoint]

    @abc.abstractmethod
    def solve(
        self,
        cell: FlatCell,
        h0: Inexact[Array, " N"],
        xs: Any,
        guess: Inexact[Array, "T N"] | None,
    ) -> SolveResult:
        """Return a `SolveResult`: the states, the result code, `stats` (with `num_steps`
        and `residual`) and what the adjoint needs from the solve (`linearisation`: the
        Jacobians at the returned trajectory if the solver has them at hand, its recurrence
        strategy and tolerances; or None for the adjoint's defaults)."""

    @abc.abstractmethod
    def hint(self, result: RESULTS) -> str:
        """What to try after this solver failed with `result` (one sentence beginning with a
        space, or ""); never this solver."""
