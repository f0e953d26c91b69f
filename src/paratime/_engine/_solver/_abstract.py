"""The solver interface."""

import abc
from typing import Any, ClassVar

import equinox as eqx
from jaxtyping import Array, Inexact

from .._adjoints import AbstractAdjoint, ImplicitAdjoint
from .._flat import FlatCell
from .._recurrences import AbstractRecurrence, Chunked
from .._scan import linear_recurrence
from .._solution import SolveResult
from .._structures import AbstractStructure, Diagonal


class AbstractSolver(eqx.Module):
    """A method that computes the trajectory h_1..h_T of a recurrent cell.

    Solvers work on flattened states: `solve` receives a `FlatCell` (a map between vectors of
    length N with `value_and_jacobian` and `value_and_jacobian_diagonal`), the initial state of
    shape (N,), the inputs (any PyTree with a leading time axis) and an optional initial guess
    of shape (T, N).

    The field `adjoint` (an `AbstractAdjoint`, or None for the solver's default) says how
    `unroll` differentiates the solution: `AutodiffAdjoint()` (through the solver itself,
    e.g. `lax.scan`), `ImplicitAdjoint()` (one reverse linear recurrence with the transposed
    Jacobians in the cell's structure) or `IterativeAdjoint()` (the adjoint recurrence solved
    by quasi-Newton iterations preconditioned with a cheaper structure; O(T·N) memory). Both
    implicit adjoints are exact at the converged trajectory.
    """

    adjoint: AbstractAdjoint | None = eqx.field(default=None, kw_only=True)
    # Under `jax.vmap` on a CPU, `unroll` solves the sequences of a batch one after another
    # (`one_at_a_time_on_cpu`) for the iterative solvers that set this (it is not
    # reverse-differentiable: never for solvers with the autodiff adjoint).
    _one_at_a_time_on_cpu: ClassVar[bool] = False

    @abc.abstractmethod
    def solve(
        self,
        cell: FlatCell,
        h0: Inexact[Array, " N"],
        xs: Any,
        guess: Inexact[Array, "T N"] | None,
    ) -> SolveResult:
        """Return a `SolveResult`: the states, the result code, `stats` (with `num_steps`
        and `residual`) and, when the solver has them at hand, the Jacobians of every step
        at the returned trajectory in the layout of `self.linearisation(cell)`
        (`SolveResult.linearisation`). `unroll`'s implicit adjoint then reuses them instead
        of evaluating them again.
        """

    def default_adjoint(self) -> AbstractAdjoint:
        """The adjoint used when the `adjoint` field is None."""
        return ImplicitAdjoint()

    def differentiation(self) -> AbstractAdjoint:
        """The adjoint `unroll` uses: the `adjoint` field, or the solver's default."""
        return self.default_adjoint() if self.adjoint is None else self.adjoint

    def linearisation(self, cell: FlatCell) -> AbstractStructure:
        """The structure of the Jacobians the solver works with (and may leave in its
        result for the adjoint); the diagonal unless a solver says otherwise."""
        return Diagonal()

    def iteration_settings(self) -> tuple[float | None, float | None, int]:
        """`(rtol, atol, max_iters)` of the solver, inherited by an `IterativeAdjoint` whose
        own are None (None: the dtype's default tolerance)."""
        return None, None, 100

    def strategy(self) -> AbstractRecurrence | None:
        """The solver's recurrence strategy (its `recurrence` field, for a solver that has
        one); None: the backend's default."""
        return None

    def adjoint_strategy(self) -> AbstractRecurrence | None:
        """The recurrence strategy of the implicit adjoint's reverse recurrence: the solver's
        own (the whole sequence at once for a `Chunked` one, by its inner strategy)."""
        strategy = self.strategy()
        return strategy.inner if isinstance(strategy, Chunked) else strategy

    def adjoint_recurrence(self, a: Array, b: Array, h0: Array, *, reverse: bool) -> Array:
        """The linear-recurrence solver of the implicit adjoint, by `adjoint_strategy()`."""
        return linear_recurrence(a, b, h0, reverse=reverse, recurrence=self.adjoint_strategy())
