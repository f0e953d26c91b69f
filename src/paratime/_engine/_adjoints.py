"""How `unroll` differentiates a solve: the adjoint as a field object of every solver, which
owns differentiation (`apply` wraps the solve).

`AutodiffAdjoint()` backpropagates through the solver's own operations (e.g. `lax.scan`).
`ImplicitAdjoint()` solves the adjoint recurrence λ_t = g_t + J_{t+1}ᵀ λ_{t+1} exactly, by one
reverse linear recurrence with the transposed Jacobians in the cell's own structure.
`IterativeAdjoint()` solves it by quasi-Newton iterations preconditioned with the Jacobians
projected onto a cheaper structure (the diagonal by default), with exact matrix-free VJPs:
O(T·N) memory. Both implicit adjoints are exact at the converged trajectory.
"""

import abc
import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from ._adjoint import dense_adjoint, diagonal_adjoint, pullback, shift_in
from ._batching import one_at_a_time_on_cpu
from ._checks import check_int, check_number, check_tolerances
from ._flat import FlatCell
from ._scan import linear_recurrence
from ._solution import Linearisation
from ._structures import AbstractStructure

# primal(inputs, args) -> ((states, result, stats), linearisation): the solve, for
# inputs = (cell, h0, xs) (what gradients flow to) and `args` (the rest: the solver, ...).
Primal = Callable[[Any, Any], tuple[Any, Linearisation]]


class AbstractAdjoint(eqx.Module):
    """How the gradient of a solve is computed (a field of every solver).

    As in Optimistix, the adjoint owns differentiation: `apply` runs the solve and makes
    its states differentiable with respect to the cell's parameters, `h0` and `xs`. It sees
    the solve only through what the solve returns: the states and a `Linearisation`.
    """

    # Whether gradients go through the solver's own operations (then those must be
    # differentiable: e.g. a fallback uses a plain `lax.cond`).
    through_solve: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def apply(self, primal: Primal, inputs: tuple[FlatCell, Array, Any], args: Any) -> Any:
        """`(states, result, stats)` of `primal(inputs, args)`, differentiable (by this
        adjoint) with respect to `inputs` = (cell, h0, xs)."""


class AutodiffAdjoint(AbstractAdjoint):
    """Differentiate through the solver's own operations (backpropagation through time for
    `Sequential`)."""

    through_solve: ClassVar[bool] = True

    def apply(self, primal, inputs, args):
        return primal(inputs, args)[0]


class ImplicitAdjoint(AbstractAdjoint):
    """The exact adjoint: one reverse linear recurrence with the transposed Jacobians, in the
    structure the cell declares (N×N, k×k blocks or a diagonal per step)."""

    through_solve: ClassVar[bool] = False

    def apply(self, primal, inputs, args):
        return _implicit(inputs, self, primal, args)

    def reads(self, cell: FlatCell, linearisation: Linearisation) -> AbstractStructure:
        """The structure of the Jacobians this adjoint reads: the cell's own."""
        return cell.structure

    def cotangent(
        self, cell: FlatCell, prev: Array, xs: Any, g: Array, linearisation: Linearisation
    ) -> Array:
        """λ, the adjoint states, from the cotangents `g` of the states."""
        return dense_adjoint(
            cell,
            prev,
            xs,
            g,
            recurrence=linearisation.recurrence,
            jacobians=linearisation.jacobians,
        )


class IterativeAdjoint(AbstractAdjoint):
    """The adjoint by preconditioned quasi-Newton iterations with exact VJPs; O(T·N·k) memory
    for a k×k block (O(T·N) for the diagonal) instead of the cell's full Jacobians. Falls back
    to a sequential reverse scan where the iterations do not converge, so it stays exact.

    **Arguments** (None: the solver's own setting):

    - `preconditioner`: the preconditioner's `paratime.structures` layout; default the
        structure the solver linearises with (the diagonal for `QuasiDEER`).
    - `rtol`, `atol`: the test max|λ − g − Jᵀλ| ≤ atol + rtol·max|λ|; default the solver's
        `rtol` (else eps^(3/4) of the dtype) and its `atol` (else 0: a relative test, as losses
        averaged over T·N states are tiny).
    - `max_iters`: the most iterations; default the solver's.
    """

    preconditioner: AbstractStructure | None = None
    rtol: float | None = None
    atol: float | None = None
    max_iters: int | None = None

    through_solve: ClassVar[bool] = False

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

    def apply(self, primal, inputs, args):
        return _implicit(inputs, self, primal, args)

    def reads(self, cell: FlatCell, linearisation: Linearisation) -> AbstractStructure:
        """The structure of the Jacobians this adjoint reads: its preconditioner's."""
        if self.preconditioner is not None:
            return self.preconditioner
        return linearisation.structure

    def cotangent(
        self, cell: FlatCell, prev: Array, xs: Any, g: Array, linearisation: Linearisation
    ) -> Array:
        """λ, the adjoint states, from the cotangents `g` of the states."""
        lin = linearisation

        def recurrence(a, b, h0, *, reverse):
            return linear_recurrence(a, b, h0, reverse=reverse, recurrence=lin.recurrence)

        atol = (0.0 if lin.atol is None else lin.atol) if self.atol is None else self.atol
        return diagonal_adjoint(
            cell,
            prev,
            xs,
            g,
            rtol=lin.rtol if self.rtol is None else self.rtol,
            atol=atol,
            max_iters=lin.max_iters if self.max_iters is None else self.max_iters,
            recurrence=recurrence,
            diagonal=lin.jacobians,
            structure=self.reads(cell, lin),
        )


@eqx.filter_custom_vjp
def _implicit(inputs, adjoint, primal, args):
    return primal(inputs, args)[0]


@_implicit.def_fwd
def _implicit_fwd(perturbed, inputs, adjoint, primal, args):
    out, linearisation = primal(inputs, args)
    return out, (out[0], linearisation)


@_implicit.def_bwd
def _implicit_bwd(residuals, grad_obj, perturbed, inputs, adjoint, primal, args):
    """Gradients w.r.t. (cell, h0, xs): λ from `adjoint.cotangent`, then one vmapped VJP of
    the cell (`pullback`). Nothing is differentiated through the solve."""
    states, lin = residuals
    cell, h0, xs = inputs
    g = grad_obj[0]
    if g is None:
        g = jnp.zeros_like(states)
    prev = shift_in(h0, states)
    if lin.jacobians is not None and lin.structure != adjoint.reads(cell, lin):
        lin = dataclasses.replace(lin, jacobians=None)  # not in the layout the adjoint reads
    dynamic, static = eqx.partition(cell, eqx.is_array)

    def cotangent(dynamic, prev, xs, g, lin):
        return adjoint.cotangent(eqx.combine(dynamic, static), prev, xs, g, lin)

    args = (dynamic, prev, xs, g, lin)
    # After a Newton solve (Jacobians at hand), batched on a CPU: one sequence after another.
    # (Otherwise the dense adjoint has its own time-major batching rule.)
    if lin.jacobians is None or not lin.one_at_a_time_on_cpu:
        lam = cotangent(*args)
    else:
        lam = one_at_a_time_on_cpu(cotangent, *args)
    return pullback(cell, prev, xs, lam)


def or_default(default: AbstractAdjoint) -> Callable[[Any], Any]:
    """A field converter: None becomes `default` (a solver's `adjoint=None` is its default)."""
    return lambda adjoint: default if adjoint is None else adjoint


def check_adjoint(adjoint: Any, solver: str) -> None:
    """An adjoint object or None, and not `AutodiffAdjoint` for an iterative solver (autodiff
    cannot go back through its `lax.while_loop`)."""
    if adjoint is not None and not isinstance(adjoint, AbstractAdjoint):
        raise TypeError(
            "`adjoint` must be paratime.ImplicitAdjoint(), IterativeAdjoint(), "
            f"AutodiffAdjoint() or None; got {type(adjoint).__name__}."
        )
    if isinstance(adjoint, AutodiffAdjoint):
        raise ValueError(
            f"`adjoint` must be paratime.ImplicitAdjoint(), IterativeAdjoint() or None for "
            f"{solver}: AutodiffAdjoint() cannot differentiate its iterations (a "
            "`lax.while_loop`)."
        )
