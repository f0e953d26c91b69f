"""The solver interface."""

import abc
from typing import Any, ClassVar, Literal

import equinox as eqx
from jaxtyping import Array, Inexact

from .._flat import FlatCell
from .._scan import linear_recurrence
from .._solution import RESULTS
from .._structures import AbstractStructure, Diagonal

Adjoint = Literal["autodiff", "dense", "diagonal"]


class AbstractSolver(eqx.Module):
    """A method that computes the trajectory h_1..h_T of a recurrent cell.

    Solvers work on flattened states: `solve` receives a `FlatCell` (a map between vectors of
    length N with `value_and_jacobian` and `value_and_jacobian_diagonal`), the initial state of
    shape (N,), the inputs (any PyTree with a leading time axis) and an optional initial guess
    of shape (T, N).

    The class variable `adjoint` says how `unroll` differentiates the solution:
    `"autodiff"` (through the solver itself, e.g. `lax.scan`), `"dense"` (one reverse linear
    recurrence with the transposed Jacobians) or `"diagonal"` (the adjoint recurrence solved by
    quasi-Newton iterations preconditioned with the Jacobian diagonal; O(T·N) memory).
    Both implicit adjoints are exact at the converged trajectory.
    """

    adjoint: ClassVar[Adjoint] = "dense"
    # Under `jax.vmap` on a CPU, `unroll` solves the sequences of a batch one after another
    # (`one_at_a_time_on_cpu`) for the iterative solvers that set this (it is not
    # reverse-differentiable: never for solvers with the "autodiff" adjoint).
    _one_at_a_time_on_cpu: ClassVar[bool] = False

    @abc.abstractmethod
    def solve(
        self,
        cell: FlatCell,
        h0: Inexact[Array, " N"],
        xs: Any,
        guess: Inexact[Array, "T N"] | None,
    ) -> tuple[Inexact[Array, "T N"], RESULTS, dict[str, Array]]:
        """Return `(states, result, stats)`; `stats` has `num_steps` and `residual`.

        `stats` may also hold `jacobians`: the Jacobians (full, or their diagonals for a
        `"diagonal"` adjoint) of every step at the returned trajectory, when the solver has
        them at hand. `unroll` then reuses them in the adjoint instead of evaluating them
        again, and does not return them.
        """

    def adjoint_structure(self, cell: FlatCell) -> AbstractStructure:
        """The Jacobian structure of the implicit adjoint: the cell's exact one for the
        `"dense"` (exact, one reverse scan) adjoint; the preconditioner's (the diagonal by
        default) for the iterative `"diagonal"` one."""
        return cell.structure if self.adjoint == "dense" else Diagonal()

    def adjoint_recurrence(self, a: Array, b: Array, h0: Array, *, reverse: bool) -> Array:
        """The linear-recurrence solver of the implicit adjoint (sharded solvers override it)."""
        return linear_recurrence(a, b, h0, reverse=reverse)

    @property
    def adjoint_rtol(self) -> float | None:
        """Relative tolerance of the iterative ("diagonal") adjoint; None uses the dtype's."""
        return getattr(self, "rtol", None)

    @property
    def adjoint_atol(self) -> float:
        """Absolute tolerance of the iterative adjoint; by default the test is relative only
        (an absolute eps^(3/4) is too loose for losses averaged over T·N states)."""
        atol = getattr(self, "atol", None)
        return 0.0 if atol is None else atol

    @property
    def adjoint_max_iters(self) -> int:
        return getattr(self, "max_iters", 100)
