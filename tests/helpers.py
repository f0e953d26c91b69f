"""Shared test helpers."""

import jax
import jax.numpy as jnp
import numpy as np


def tree_allclose(x, y, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True when two PyTrees have the same structure and all leaves are close."""
    xs, xdef = jax.tree_util.tree_flatten(x)
    ys, ydef = jax.tree_util.tree_flatten(y)
    if xdef != ydef:
        return False
    return all(
        np.shape(a) == np.shape(b) and bool(jnp.allclose(a, b, rtol=rtol, atol=atol))
        for a, b in zip(xs, ys)
    )


def tree_max_abs_diff(x, y) -> float:
    """The largest absolute difference over all leaves of two PyTrees of the same structure."""
    diffs = jax.tree_util.tree_map(lambda a, b: jnp.max(jnp.abs(a - b)), x, y)
    return float(max(jax.tree_util.tree_leaves(diffs)))
