"""Flattening of PyTree states to vectors, so that solvers work on arrays of shape (T, N)."""

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

from ._structures import AbstractStructure, Dense, Diagonal


class FlatState(eqx.Module):
    """A static description of a state PyTree: its structure, leaf shapes and dtype."""

    treedef: Any = eqx.field(static=True)
    shapes: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    dtype: Any = eqx.field(static=True)

    @property
    def size(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    def ravel(self, tree: PyTree[Array]) -> Array:
        leaves = jax.tree_util.tree_leaves(tree)
        return jnp.concatenate([jnp.ravel(x).astype(self.dtype) for x in leaves])

    def unravel(self, flat: Array) -> PyTree[Array]:
        leaves, start = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            leaves.append(flat[start : start + n].reshape(shape))
            start += n
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def unravel_trajectory(self, flat: Array) -> PyTree[Array]:
        """(T, N) -> the state PyTree with a leading T axis on every leaf."""
        leaves, start = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            leaves.append(flat[:, start : start + n].reshape((flat.shape[0],) + shape))
            start += n
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def ravel_trajectory(self, tree: PyTree[Array]) -> Array:
        leaves = jax.tree_util.tree_leaves(tree)
        T = leaves[0].shape[0]
        return jnp.concatenate([x.reshape(T, -1).astype(self.dtype) for x in leaves], axis=1)


def flat_state(h0: PyTree[Array]) -> FlatState:
    leaves, treedef = jax.tree_util.tree_flatten(h0)
    dtypes = {jnp.asarray(x).dtype for x in leaves}
    return FlatState(treedef, tuple(jnp.shape(x) for x in leaves), dtypes.pop())


class FlatCell(eqx.Module):
    """A cell seen as a map between flat vectors, with its Jacobian in a chosen structure.

    Cells that subclass `paratime.cells.AbstractCell` declare the structure of their exact
    Jacobian and may provide it analytically; any other callable is `Dense` and gets it by
    forward-mode autodiff.
    """

    cell: Callable
    state: FlatState

    def __call__(self, h: Array, x: Any) -> Array:
        return self.state.ravel(self.cell(self.state.unravel(h), x))

    @property
    def structure(self) -> AbstractStructure:
        """The structure of the cell's exact Jacobian (w.r.t. the ravelled state)."""
        from ._cell import AbstractCell

        if isinstance(self.cell, AbstractCell):
            return self.cell.jacobian_structure
        return Dense()

    def value_and_jacobian(self, h: Array, x: Any) -> tuple[Array, Array]:
        """f(h, x) and its exact Jacobian, in the layout of `self.structure`."""
        from ._cell import AbstractCell

        if isinstance(self.cell, AbstractCell):
            value, jac = self.cell.value_and_jacobian(self.state.unravel(h), x)
            return self.state.ravel(value), jac.astype(self.state.dtype)
        return Dense().jacobian(lambda y: self(y, x), h)

    def value_and_jacobian_diagonal(self, h: Array, x: Any) -> tuple[Array, Array]:
        from ._cell import AbstractCell

        if isinstance(self.cell, AbstractCell):
            value, diag = self.cell.value_and_jacobian_diagonal(self.state.unravel(h), x)
            return self.state.ravel(value), diag.astype(self.state.dtype)
        value, jac = Dense().jacobian(lambda y: self(y, x), h)
        return value, jnp.diagonal(jac)

    def linearise(self, h: Array, x: Any, structure: AbstractStructure) -> tuple[Array, Array]:
        """f(h, x) and its Jacobian projected onto `structure` (exact if the cell's own
        structure fits inside it)."""
        if structure == self.structure:
            return self.value_and_jacobian(h, x)
        if isinstance(structure, Diagonal):
            return self.value_and_jacobian_diagonal(h, x)
        value, jac = self.value_and_jacobian(h, x)
        return value, structure.project(jac, self.structure)
