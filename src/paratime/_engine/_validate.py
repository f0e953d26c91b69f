"""The checks of `unroll`'s arguments: plain-Python errors that name the argument and what
was expected, before anything is traced."""

import jax
import jax.numpy as jnp
import numpy as np

from ._cell import AbstractCell
from ._fallback import check_fallback
from ._solver import AbstractSolver
from ._state import FlatState, flat_state


def _check_declared_shapes(cell, h0_shape, x0) -> None:
    """Name the argument that does not fit a cell that declares its shapes."""
    expected = cell.expected_shapes() if isinstance(cell, AbstractCell) else None
    if expected is None:
        return
    state, x_shape = expected
    got = jax.tree_util.tree_map(lambda x: tuple(x.shape), h0_shape)

    def is_shape(x):
        return isinstance(x, tuple) and all(isinstance(i, int) for i in x)

    want = jax.tree_util.tree_map(tuple, state, is_leaf=is_shape)
    if got != want:
        raise ValueError(
            f"`h0` must have shape {want} for this {type(cell).__name__} cell; got {got}."
        )
    if x_shape is not None:
        leaves = jax.tree_util.tree_leaves(x0)
        got_x = tuple(np.shape(leaves[0])) if len(leaves) == 1 else None
        if got_x != tuple(x_shape):
            shown = got_x if got_x is not None else [np.shape(x) for x in leaves]
            raise ValueError(
                f"`xs` must have shape (T, {', '.join(map(str, x_shape))}) for this "
                f"{type(cell).__name__} cell (one step: {tuple(x_shape)}); got one step of "
                f"shape {shown}."
            )


def validate(cell, h0, xs, guess, solver, fallback) -> tuple[FlatState, int]:
    """Check the arguments of `unroll` in plain Python (errors name the argument and what was
    expected); return the description of the state PyTree and the sequence length T."""
    if not callable(cell):
        raise TypeError(f"`cell` must be callable as cell(h, x); got {type(cell).__name__}.")
    if not isinstance(solver, AbstractSolver):
        raise TypeError(f"`solver` must be a paratime solver; got {type(solver).__name__}.")
    check_fallback(fallback)
    h0_leaves = jax.tree_util.tree_leaves(h0)
    if not h0_leaves:
        raise ValueError("`h0` must contain at least one array.")
    dtypes = {jnp.result_type(x) for x in h0_leaves}
    if len(dtypes) > 1:
        raise ValueError(
            f"all leaves of `h0` must share one dtype; got {sorted(map(str, dtypes))}."
        )
    if not jnp.issubdtype(next(iter(dtypes)), jnp.inexact):
        raise ValueError(f"`h0` must be floating or complex; got dtype {next(iter(dtypes))}.")
    x_leaves = jax.tree_util.tree_leaves(xs)
    if not x_leaves:
        raise ValueError("`xs` must contain at least one array with a leading time axis.")
    if any(np.ndim(x) == 0 for x in x_leaves):
        raise ValueError("`xs` must have a leading time axis: shape (T, D); got a scalar.")
    lengths = {np.shape(x)[0] for x in x_leaves}
    if len(lengths) > 1:
        raise ValueError(f"all leaves of `xs` must have the same length T; got {sorted(lengths)}.")
    T = lengths.pop()
    if T < 1:
        raise ValueError("`xs` must have at least one time step (T >= 1); got T = 0.")
    x0 = jax.tree_util.tree_map(lambda x: x[0], xs)
    h0_shape = jax.eval_shape(lambda: h0)
    _check_declared_shapes(cell, h0_shape, x0)
    try:
        out = jax.eval_shape(cell, h0, x0)
    except Exception as e:
        h0_shapes = [tuple(x.shape) for x in jax.tree_util.tree_leaves(h0_shape)]
        x_shapes = [tuple(np.shape(x)) for x in jax.tree_util.tree_leaves(xs)]
        raise ValueError(
            f"calling `cell(h0, xs[0])` failed: `h0` (shapes {h0_shapes}) or `xs` (shapes "
            f"{x_shapes}, time first) does not fit the cell {type(cell).__name__}. "
            f"The cell raised: {e}"
        ) from e
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(h0_shape) or any(
        (a.shape, a.dtype) != (b.shape, b.dtype)
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(h0_shape))
    ):
        raise ValueError(
            "`cell(h, x)` must return a state with the same structure, shapes and dtype as `h0`; "
            f"got {out} for h0 = {h0_shape}."
        )
    fs = flat_state(h0)
    if guess is not None:
        expected = [(T,) + s for s in fs.shapes]
        got = [np.shape(x) for x in jax.tree_util.tree_leaves(guess)]
        if got != expected:
            raise ValueError(f"`guess` must have shapes {expected} (T, *h0.shape); got {got}.")
    return fs, T
