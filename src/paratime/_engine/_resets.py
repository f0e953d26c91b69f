"""Resets: restart the state before chosen steps, for packed sequences.

`unroll(cell, h0, xs, resets=r)` solves the cell

    f'(h, (x_t, r_t)) = f(where(r_t, h_reset, h), x_t)

over the inputs `(xs, resets)`. Its Jacobian with respect to h is the inner cell's, in the
inner cell's structure, zeroed where r_t: the linearised recurrence is cut at every boundary,
at no extra cost, and every solver (and every adjoint) handles resets without knowing of
them. Gradients reach `h_reset` (by default `h0` itself) through the cell's parameters.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, PyTree

from ._cell import AbstractCell, AbstractLinearCell, CellCosts
from ._structures import AbstractStructure


def _restart(h: PyTree[Array], reset: Bool[Array, ""], h_reset: PyTree[Array]) -> PyTree[Array]:
    return jax.tree_util.tree_map(lambda a, b: jnp.where(reset, b, a), h, h_reset)


class ResetCallable(eqx.Module):
    """Resets around a callable that is not an `AbstractCell` (Jacobians by autodiff)."""

    cell: Callable
    reset_state: PyTree[Array]

    def __call__(self, h: PyTree[Array], x: tuple[Any, Bool[Array, ""]]) -> PyTree[Array]:
        x, reset = x
        return self.cell(_restart(h, reset, self.reset_state), x)


class ResetCell(AbstractCell):
    """Resets around an `AbstractCell`: its Jacobian structure and analytic Jacobians, zeroed
    at the steps that restart."""

    cell: AbstractCell
    reset_state: PyTree[Array]

    def __call__(self, h: PyTree[Array], x: tuple[Any, Bool[Array, ""]]) -> PyTree[Array]:
        x, reset = x
        return self.cell(_restart(h, reset, self.reset_state), x)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return self.cell.jacobian_structure

    def value_and_jacobian(self, h, x):
        x, reset = x
        value, jac = self.cell.value_and_jacobian(_restart(h, reset, self.reset_state), x)
        return value, jnp.where(reset, jnp.zeros_like(jac), jac)

    def value_and_jacobian_diagonal(self, h, x):
        x, reset = x
        value, diag = self.cell.value_and_jacobian_diagonal(_restart(h, reset, self.reset_state), x)
        return value, jnp.where(reset, jnp.zeros_like(diag), diag)

    def costs(self, h: Any = None, x: Any = None) -> CellCosts | None:
        return self.cell.costs(h, None if x is None else x[0])


class ResetLinearCell(AbstractLinearCell):
    """Resets around a cell linear in its state: a_t ← 0 and b_t ← b_t + a_t·h_reset where
    r_t, so `LinearScan` stays exact."""

    cell: AbstractLinearCell
    reset_state: Array

    def coefficients(self, x):
        x, reset = x
        a, b = self.cell.coefficients(x)
        zero = jnp.zeros_like(a)
        return jnp.where(reset, zero, a), b + jnp.where(reset, a * self.reset_state, zero)

    def costs(self, h: Any = None, x: Any = None) -> CellCosts | None:
        return self.cell.costs(h, None if x is None else x[0])


def with_resets(
    cell: Callable, h0: PyTree[Array], xs: Any, resets: Any, T: int, reset_state: Any
) -> tuple[Callable, tuple[Any, Bool[Array, " T"]]]:
    """The cell with resets and its inputs `(xs, resets)`, after checking `resets` (a boolean
    (T,) array) and `reset_state` (None, or a state like `h0`)."""
    shape, dtype = np.shape(resets), jnp.result_type(resets)
    if shape != (T,):
        raise ValueError(f"`resets` must be a boolean array of shape (T,) = ({T},); got {shape}.")
    if dtype != np.bool_:
        raise TypeError(f"`resets` must be a boolean array of shape ({T},); got dtype {dtype}.")
    if reset_state is None:
        reset_state = h0
    else:
        want = (
            jax.tree_util.tree_structure(h0),
            [(np.shape(a), jnp.result_type(a)) for a in jax.tree_util.tree_leaves(h0)],
        )
        got = (
            jax.tree_util.tree_structure(reset_state),
            [(np.shape(a), jnp.result_type(a)) for a in jax.tree_util.tree_leaves(reset_state)],
        )
        if got != want:
            raise ValueError(
                "`reset_state` must have the structure, shapes and dtype of `h0`; "
                f"got {got[1]} for h0's {want[1]}."
            )
    resets = jnp.asarray(resets)
    reset_state = jax.tree_util.tree_map(jnp.asarray, reset_state)
    if isinstance(cell, AbstractLinearCell) and isinstance(reset_state, jax.Array):
        wrapped: Callable = ResetLinearCell(cell, reset_state)
    elif isinstance(cell, AbstractCell):
        wrapped = ResetCell(cell, reset_state)
    else:
        wrapped = ResetCallable(cell, reset_state)
    return wrapped, (xs, resets)
