"""What every window computes: its trajectory from its start state, and its data loss."""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, PyTree

from ._model import RNN, readout_all
from ._windows import Windows


def tree_where(cond: Array, x: PyTree[Array], y: PyTree[Array]) -> PyTree[Array]:
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), x, y)


def tree_sq(tree: PyTree[Array]) -> Array:
    """The sum of squares of all leaves."""
    return sum((jnp.sum(x**2) for x in jax.tree.leaves(tree)), start=jnp.asarray(0.0))


def tree_sub(x: PyTree[Array], y: PyTree[Array]) -> PyTree[Array]:
    return jax.tree.map(jnp.subtract, x, y)


def time_slice(tree: PyTree[Array], start: int, stop: int | None) -> PyTree[Array]:
    """Slice the time axis (axis 1, after the batch axis) of every leaf."""
    return jax.tree.map(lambda x: x[:, start:stop], tree)


def trajectory(model: RNN, start: PyTree[Array], xw: Array, index: Array, solver: Any):
    """The states of one window for a batch: `start` (B, ...) is replaced by h0 in window 0.

    **Returns:**

    States with leading axes (B, L).
    """
    h0 = jax.tree.map(lambda h, s: jnp.broadcast_to(h, s.shape), model.initial_state(), start)
    start = tree_where(index == 0, h0, start)
    return jax.vmap(lambda h, x: model.states(x, h, solver))(start, xw)


def data_term(
    model: RNN, states: PyTree[Array], yw: Array, index: Array, windows: Windows, length: int
) -> Array:
    """Window `index`'s share of the full-sequence mean squared error.

    Shared steps carry weight 1/2 in each of the two windows, so that the data terms of all
    windows add up to the full-sequence loss whenever the windows agree.
    """
    batch = yw.shape[0]
    weights = windows.weights(index, length, yw.dtype)
    err = jnp.mean((readout_all(model, states) - yw) ** 2, axis=-1)  # (B, L)
    return jnp.sum(err * weights) / (batch * length)
