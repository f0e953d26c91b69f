"""Mixed precision: cells in bfloat16 or float16, the solver's arithmetic in float32.

The policy (`unroll(..., precision=None)`): when the state is in a half-precision dtype
(bfloat16 or float16), the engine works in float32. The cell still runs in its own dtype: each
step casts the float32 state down to the state's dtype, calls the cell (its parameters, inputs
and activations stay half precision), and casts the next state and its Jacobian up. What stays
float32 is what accumulates: the carried states, the linear recurrences of the Newton solvers
(products of Jacobians over time), the adjoint's reverse recurrence, and the residual.
The convergence tolerance is the half dtype's (`_checks.default_tolerance`, eps^(3/4): 0.026
in bfloat16, 0.0043 in float16), since no iterate can be more precise than one evaluation of the
cell. `unroll` returns the states in the state's dtype.

`precision=<dtype>` sets the solver's dtype explicitly (e.g. `jnp.bfloat16` to run everything in
bfloat16, or `jnp.float32` for a float32 state: no change).
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

from ._cell import AbstractCell, AbstractLinearCell, CellCosts
from ._checks import default_tolerance
from ._structures import AbstractStructure

HALF = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


def _cast(tree: PyTree[Array], dtype: Any) -> PyTree[Array]:
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), tree)


class PrecisionCallable(eqx.Module):
    """A callable run in `dtype` (the state's) inside a solver working in another dtype."""

    cell: Callable
    dtype: Any = eqx.field(static=True)
    solver_dtype: Any = eqx.field(static=True)

    def __call__(self, h: PyTree[Array], x: Any) -> PyTree[Array]:
        return _cast(self.cell(_cast(h, self.dtype), x), self.solver_dtype)


class PrecisionCell(AbstractCell):
    """An `AbstractCell` run in `dtype`: its structure and analytic Jacobians, cast up."""

    cell: AbstractCell
    dtype: Any = eqx.field(static=True)
    solver_dtype: Any = eqx.field(static=True)

    def __call__(self, h: PyTree[Array], x: Any) -> PyTree[Array]:
        return _cast(self.cell(_cast(h, self.dtype), x), self.solver_dtype)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return self.cell.jacobian_structure

    def value_and_jacobian(self, h, x):
        value, jac = self.cell.value_and_jacobian(_cast(h, self.dtype), x)
        return _cast(value, self.solver_dtype), jac.astype(self.solver_dtype)

    def value_and_jacobian_diagonal(self, h, x):
        value, diag = self.cell.value_and_jacobian_diagonal(_cast(h, self.dtype), x)
        return _cast(value, self.solver_dtype), diag.astype(self.solver_dtype)

    def costs(self, h: Any = None, x: Any = None) -> CellCosts | None:
        if h is not None:
            h = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, self.dtype), h)
        return self.cell.costs(h, x)


class PrecisionLinearCell(AbstractLinearCell):
    """A cell linear in its state, its coefficients computed in `dtype` and cast up, so that
    `LinearScan` accumulates in the solver's dtype."""

    cell: AbstractLinearCell
    dtype: Any = eqx.field(static=True)
    solver_dtype: Any = eqx.field(static=True)

    def coefficients(self, x):
        a, b = self.cell.coefficients(x)
        return a.astype(self.solver_dtype), b.astype(self.solver_dtype)

    def costs(self, h: Any = None, x: Any = None) -> CellCosts | None:
        if h is not None:
            h = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, self.dtype), h)
        return self.cell.costs(h, x)


def solver_dtype(state_dtype: Any, precision: Any) -> Any:
    """The dtype the solver works in: `precision`, or by default float32 for a half-precision
    state and the state's own dtype otherwise."""
    if precision is not None:
        try:
            dtype = jnp.dtype(precision)
        except TypeError:
            dtype = None
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            raise ValueError(
                "`precision` must be None or a floating dtype (e.g. jnp.float32); "
                f"got {precision!r}."
            )
        if jnp.issubdtype(state_dtype, jnp.complexfloating) != jnp.issubdtype(
            dtype, jnp.complexfloating
        ):
            raise ValueError(
                f"`precision` {dtype} does not fit the state's dtype {state_dtype}: both must be "
                "real or both complex."
            )
        return dtype
    return jnp.dtype(jnp.float32) if jnp.dtype(state_dtype) in HALF else jnp.dtype(state_dtype)


def with_precision(
    cell: Callable, h0: PyTree[Array], guess: Any, state_dtype: Any, dtype: Any
) -> tuple[Callable, PyTree[Array], Any]:
    """The cell, `h0` and `guess` for a solver working in `dtype` (unchanged if the state's
    dtype is `dtype`)."""
    if jnp.dtype(state_dtype) == jnp.dtype(dtype):
        return cell, h0, guess
    if isinstance(cell, AbstractLinearCell):
        wrapped: Callable = PrecisionLinearCell(cell, state_dtype, dtype)
    elif isinstance(cell, AbstractCell):
        wrapped = PrecisionCell(cell, state_dtype, dtype)
    else:
        wrapped = PrecisionCallable(cell, state_dtype, dtype)
    guess = None if guess is None else _cast(guess, dtype)
    return wrapped, _cast(h0, dtype), guess


def with_tolerances_of(solver: Any, state_dtype: Any, dtype: Any) -> Any:
    """`solver` with its default tolerances (None) set to those of the state's dtype, when the
    solver works in another, more precise dtype."""
    if jnp.dtype(state_dtype) == jnp.dtype(dtype):
        return solver
    tol = default_tolerance(state_dtype)
    for name in ("rtol", "atol"):
        if getattr(solver, name, 0.0) is None:
            solver = eqx.tree_at(
                lambda s: getattr(s, name), solver, tol, is_leaf=lambda x: x is None
            )
    return solver
