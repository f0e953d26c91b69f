"""How `unroll` differentiates a solve: the adjoint as a field object of every solver.

`AutodiffAdjoint()` backpropagates through the solver's own operations (e.g. `lax.scan`).
`ImplicitAdjoint()` solves the adjoint recurrence λ_t = g_t + J_{t+1}ᵀ λ_{t+1} exactly, by one
reverse linear recurrence with the transposed Jacobians in the cell's own structure.
`IterativeAdjoint()` solves it by quasi-Newton iterations preconditioned with the Jacobians
projected onto a cheaper structure (the diagonal by default), with exact matrix-free VJPs:
O(T·N) memory. Both implicit adjoints are exact at the converged trajectory.
"""

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array

from ._adjoint import dense_adjoint, diagonal_adjoint
from ._checks import check_int, check_number, check_tolerances
from ._flat import FlatCell
from ._structures import AbstractStructure


class AbstractAdjoint(eqx.Module):
    """How the gradient of a solve is computed (a field of every solver)."""

    @abc.abstractmethod
    def structure(self, solver, cell: FlatCell) -> AbstractStructure | None:
        """The Jacobian structure this adjoint reads (None: none)."""

    @abc.abstractmethod
    def cotangent(
        self, solver, cell: FlatCell, prev: Array, xs: Any, g: Array, jacobians: Array | None
    ) -> Array:
        """λ, the adjoint states, from the cotangents `g` of the states; `jacobians` are the
        Jacobians at the trajectory in `self.structure(...)` if the solve kept them."""


class AutodiffAdjoint(AbstractAdjoint):
    """Differentiate through the solver's own operations (backpropagation through time for
    `Sequential`)."""

    def structure(self, solver, cell):
        return None

    def cotangent(self, solver, cell, prev, xs, g, jacobians):
        raise TypeError("`AutodiffAdjoint` differentiates through the solve itself.")


class ImplicitAdjoint(AbstractAdjoint):
    """The exact adjoint: one reverse linear recurrence with the transposed Jacobians, in the
    structure the cell declares (N×N, k×k blocks or a diagonal per step)."""

    def structure(self, solver, cell):
        return cell.structure

    def cotangent(self, solver, cell, prev, xs, g, jacobians):
        return dense_adjoint(
            cell, prev, xs, g, recurrence=solver.adjoint_strategy(), jacobians=jacobians
        )


class IterativeAdjoint(AbstractAdjoint):
    """The adjoint by preconditioned quasi-Newton iterations with exact VJPs; O(T·N·k) memory
    for a k×k block (O(T·N) for the diagonal) instead of the cell's full Jacobians. Falls back
    to a sequential reverse scan where the iterations do not converge, so it stays exact.

    **Arguments** (None: the solver's own setting):

    - `structure`: the preconditioner's `paratime.structures` layout; default the structure the
        solver linearises with (the diagonal for `QuasiDEER`).
    - `rtol`, `atol`: the test max|λ − g − Jᵀλ| ≤ atol + rtol·max|λ|; default the solver's
        `rtol` (else eps^(3/4) of the dtype) and its `atol` (else 0: a relative test, as losses
        averaged over T·N states are tiny).
    - `max_iters`: the most iterations; default the solver's.
    """

    preconditioner: AbstractStructure | None = None
    rtol: float | None = None
    atol: float | None = None
    max_iters: int | None = None

    def __check_init__(self):
        if self.preconditioner is not None and not isinstance(
            self.preconditioner, AbstractStructure
        ):
            raise TypeError(
                "`preconditioner` must be a paratime.structures object or None; got "
                f"{type(self.preconditioner).__name__}."
            )
        check_tolerances(self.rtol, self.atol)
        check_int("max_iters", self.max_iters, minimum=1, allow_none=True)
        check_number("atol", self.atol)

    def structure(self, solver, cell):
        if self.preconditioner is not None:
            return self.preconditioner
        return solver.linearisation(cell)

    def cotangent(self, solver, cell, prev, xs, g, jacobians):
        rtol, atol, max_iters = solver.iteration_settings()
        return diagonal_adjoint(
            cell,
            prev,
            xs,
            g,
            rtol=rtol if self.rtol is None else self.rtol,
            atol=(0.0 if atol is None else atol) if self.atol is None else self.atol,
            max_iters=max_iters if self.max_iters is None else self.max_iters,
            recurrence=solver.adjoint_recurrence,
            diagonal=jacobians,
            structure=self.structure(solver, cell),
        )
