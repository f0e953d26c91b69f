"""A state PyTree seen as one vector, so that solvers work on arrays of shape (T, N)."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree


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
