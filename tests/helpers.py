"""Shared test helpers."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)


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


@st.composite
def linear_recurrences(draw, lengths=st.integers(1, 9), blocks=st.integers(1, 3)):
    """A random float64 `(a, b, h0)` of `linear_recurrence`, of any structure (diagonal, dense
    or block-diagonal with `blocks` blocks), real or complex, with `T` drawn from `lengths`."""
    structure = draw(st.sampled_from(["diagonal", "dense", "block"]))
    T = draw(lengths)
    if structure == "block":
        K, B = draw(blocks), draw(st.integers(1, 3))
        N, a_shape = K * B, (T, K, B, B)
    else:
        N = draw(st.integers(1, 4))
        a_shape = (T, N) if structure == "diagonal" else (T, N, N)
    is_complex = draw(st.booleans())

    def array(shape):
        x = draw(hnp.arrays(np.float64, shape, elements=unit))
        if is_complex:
            x = x + 1j * draw(hnp.arrays(np.float64, shape, elements=unit))
        return x

    a = array(a_shape)
    if structure != "diagonal":
        a = a / a_shape[-1]  # keep products over time bounded
    return a, array((T, N)), array((N,))


def scan_reference(a, b, h0, *, reverse=False):
    """The recurrence h_t = a_t h_{t∓1} + b_t by a plain `lax.scan` differentiated by ordinary
    autodiff (no custom derivative): the reference `linear_recurrence` is compared against."""
    from paratime._engine._structures import infer_structure

    structure = infer_structure(a, b)
    dtype = jnp.promote_types(jnp.promote_types(a.dtype, b.dtype), h0.dtype)
    a, b, h0 = a.astype(dtype), b.astype(dtype), h0.astype(dtype)

    def step(h, ab):
        h = structure.apply(ab[0], h) + ab[1]
        return h, h

    return jax.lax.scan(step, h0, (a, b), reverse=reverse)[1]
