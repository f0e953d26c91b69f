"""Base classes for recurrent cells: a callable (h, x) -> h_next plus its Jacobians.

The engine owns these; `paratime.cells` re-exports them and builds on them.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.lax as lax
from jaxtyping import Array, Inexact, PyTree

from ._flat import flat_state
from ._structures import AbstractStructure, Dense, Diagonal


def scan_cell(cell: Callable, h0: PyTree[Array], xs: Any) -> PyTree[Array]:
    """The states h_1..h_T of any cell `cell(h, x)`, by a plain `lax.scan`."""

    def step(h, x):
        h = cell(h, x)
        return h, h

    return lax.scan(step, h0, xs)[1]


class AbstractCell(eqx.Module):
    """A recurrent cell h_t = f(h_{t-1}, x_t).

    Subclasses implement `__call__`. They may declare the structure of their exact Jacobian
    (`jacobian_structure`: `paratime.structures.Dense()` by default, or `Diagonal()`,
    `BlockDiagonal(k)`), and override `value_and_jacobian` and `value_and_jacobian_diagonal`
    with analytic versions; the defaults use forward-mode autodiff (one JVP for a diagonal
    Jacobian, k for a block-diagonal one, N for a dense one). Jacobians are taken with respect
    to the *ravelled* state (the leaves of the state PyTree flattened and concatenated in
    `jax.tree_util.tree_leaves` order), so a cell with a state `(h, c)` of sizes (n, n) has an
    N×N Jacobian with N = 2n.

    Any callable PyTree works with `paratime.unroll`; subclassing is only needed to provide
    cheaper Jacobians.
    """

    @abc.abstractmethod
    def __call__(self, h: PyTree[Inexact[Array, "..."]], x: Any) -> PyTree[Inexact[Array, "..."]]:
        """One step: the next state from the previous state `h` and the input `x`."""

    @property
    def jacobian_structure(self) -> AbstractStructure:
        """The structure of the exact Jacobian d h_next / d h (ravelled): `Dense()` unless a
        cell declares a sparser one. `value_and_jacobian` returns J in this layout, and
        `paratime.DEER` then solves with it exactly (O(T·N·k) memory for k×k blocks)."""
        return Dense()

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None] | None:
        """The shapes this cell takes, for error messages: `(state, input)`, where `state` is
        a PyTree of shape tuples like `h0` and `input` the shape of one step of `xs` (or None
        when any shape works), or None when the cell does not say (the default)."""
        return None

    def trajectory(
        self, h0: PyTree[Inexact[Array, "..."]], xs: Any
    ) -> PyTree[Inexact[Array, "..."]]:
        """The states h_1..h_T one step after another (a PyTree like `h0` with a leading time
        axis): a `lax.scan` of `__call__`.

        A cell may override this with a faster loop that computes the same values (e.g. its
        input projections for all steps at once). `Sequential` and `Auto` use it for a single
        sequence whose states are not differentiated; where they are differentiated, or under
        `jax.vmap`, values and derivatives come from a `lax.scan` of `__call__`.
        """
        return scan_cell(self, h0, xs)

    def value_and_jacobian(
        self, h: PyTree[Inexact[Array, "..."]], x: Any
    ) -> tuple[PyTree[Inexact[Array, "..."]], Inexact[Array, "..."]]:
        """The next state and the Jacobian d h_next / d h (ravelled), in one pass, in the
        layout of `self.jacobian_structure` ((N, N) for `Dense`, (N,) for `Diagonal`,
        (N//k, k, k) for `BlockDiagonal(k)`)."""
        fs = flat_state(h)
        value, jac = self.jacobian_structure.jacobian(
            lambda y: fs.ravel(self(fs.unravel(y), x)), fs.ravel(h)
        )
        return fs.unravel(value), jac

    def value_and_jacobian_diagonal(
        self, h: PyTree[Inexact[Array, "..."]], x: Any
    ) -> tuple[PyTree[Inexact[Array, "..."]], Inexact[Array, " N"]]:
        """The next state and the diagonal of d h_next / d h (ravelled).

        The default projects `value_and_jacobian` onto the diagonal; shipped cells override it
        with an O(N) formula.
        """
        value, jac = self.value_and_jacobian(h, x)
        return value, Diagonal().project(jac, self.jacobian_structure)


class AbstractLinearCell(AbstractCell):
    """A cell that is linear and diagonal in its state: h_t = a(x_t) ⊙ h_{t-1} + b(x_t).

    `paratime.unroll` with `Auto()` solves such cells exactly with one `linear_recurrence`.
    The state must be a single array of shape (N,).
    """

    @abc.abstractmethod
    def coefficients(self, x: Any) -> tuple[Inexact[Array, " N"], Inexact[Array, " N"]]:
        """The per-step coefficients (a_t, b_t)."""

    def __call__(self, h: Inexact[Array, " N"], x: Any) -> Inexact[Array, " N"]:
        a, b = self.coefficients(x)
        return a * h + b

    def value_and_jacobian(self, h, x):
        a, b = self.coefficients(x)
        return a * h + b, Dense().project(a, Diagonal())

    def value_and_jacobian_diagonal(self, h, x):
        a, b = self.coefficients(x)
        return a * h + b, a
