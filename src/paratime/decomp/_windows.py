"""Cutting a sequence into K (possibly overlapping) windows, and gluing states back together."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import DTypeLike
from jaxtyping import Array, ArrayLike, Float, PyTree


class Windows(eqx.Module):
    """K windows of length `L = S + overlap` with stride `S` over a sequence of length
    `T = K·S + overlap`.

    Window `k` covers steps `[k·S, k·S + L)`. Adjacent windows share `overlap` steps: the
    last `overlap` steps of window `k` are the first `overlap` steps of window `k + 1`.
    `overlap=0` gives the disjoint segments of multiple shooting.

    **Arguments:**

    - `num_windows`: K ≥ 1.
    - `overlap`: the number of shared steps between neighbours (≥ 0, < stride).
    """

    num_windows: int = eqx.field(static=True)
    overlap: int = eqx.field(static=True, default=0)

    def __check_init__(self):
        if self.num_windows < 1:
            raise ValueError(f"`num_windows` must be at least 1; got {self.num_windows}.")
        if self.overlap < 0:
            raise ValueError(f"`overlap` must be non-negative; got {self.overlap}.")

    def stride(self, length: int) -> int:
        """The stride S for a sequence of `length` steps.

        **Raises:**

        `ValueError` if `length − overlap` is not a positive multiple of `num_windows`, or if
        the overlap is not shorter than the stride.
        """
        core = length - self.overlap
        if core <= 0 or core % self.num_windows:
            raise ValueError(
                f"sequence length {length} minus `overlap` {self.overlap} must be a positive "
                f"multiple of `num_windows` {self.num_windows}."
            )
        stride = core // self.num_windows
        if self.overlap >= stride and self.num_windows > 1:
            raise ValueError(
                f"`overlap` ({self.overlap}) must be smaller than the stride ({stride}); use "
                "fewer windows or a smaller overlap."
            )
        return stride

    def split(self, xs: PyTree[ArrayLike], *, axis: int = 0) -> PyTree[Array]:
        """Cut every leaf of `xs` along `axis` (the time axis) into windows.

        **Arguments:**

        - `xs`: PyTree of arrays with a time axis of length T at position `axis`.
        - `axis`: the time axis.

        **Returns:**

        The same PyTree with a new leading window axis K and a time axis of length L (at
        `axis + 1`).
        """
        leaves = jax.tree.leaves(xs)
        if not leaves:
            raise ValueError("`xs` must contain at least one array.")
        length = leaves[0].shape[axis]
        stride = self.stride(length)
        size = stride + self.overlap
        starts = [k * stride for k in range(self.num_windows)]

        def cut(x):
            x = jnp.asarray(x)
            if x.shape[axis] != length:
                raise ValueError("all leaves of `xs` must have the same time length.")
            return jnp.stack([jax.lax.slice_in_dim(x, s, s + size, axis=axis) for s in starts])

        return jax.tree.map(cut, xs)

    def weights(
        self, index: ArrayLike, length: int, dtype: DTypeLike = float
    ) -> Float[Array, " L"]:
        """Per-step loss weights of window `index`: 1/2 on the steps it shares with a
        neighbour, 1 elsewhere, so that the window losses add up to the full-sequence loss.
        """
        index = jnp.asarray(index)
        stride = self.stride(length)
        t = jnp.arange(stride + self.overlap)
        shared_left = (index > 0) & (t < self.overlap)
        shared_right = (index < self.num_windows - 1) & (t >= stride)
        half = jnp.asarray(0.5, dtype)
        one = jnp.asarray(1.0, dtype)
        return jnp.where(shared_left, half, one) * jnp.where(shared_right, half, one)

    def merge(self, windows: PyTree[ArrayLike], length: int) -> PyTree[Array]:
        """Glue per-window trajectories (leading axes K, L) back into one of length T.

        Each step is taken from the first window that covers it, so the overlap of window
        `k + 1` is dropped in favour of window `k`'s.
        """
        stride = self.stride(length)

        def glue(w):
            w = jnp.asarray(w)
            head = w[:, :stride].reshape((-1,) + w.shape[2:])
            return jnp.concatenate([head, w[-1, stride:]], axis=0)

        return jax.tree.map(glue, windows)
