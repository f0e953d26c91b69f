"""Jacobian structures: the layout of one step's transition A_t in h_t = A_t h_{t−1} + b_t.

A structure is a small static `eqx.Module` that knows, for a ravelled state of length N, the
per-step layout of A_t, its identity, the associative combine of two steps, its action on a
state, its transpose (for the adjoint), the projection of a denser layout onto it, its dense
form and its size. Every method works on arrays with any number of leading (time, batch) axes.
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike
from jaxtyping import Array, Inexact


class AbstractStructure(eqx.Module):
    """The layout of the per-step Jacobian J = ∂h_t/∂h_{t−1} of a ravelled state of length N.

    Concrete structures: `Diagonal()` (shape (N,)), `BlockDiagonal(k)` (shape (N//k, k, k),
    block i acting on the entries [i·k, (i+1)·k) of the state) and `Dense()` (shape (N, N)).
    """

    @abc.abstractmethod
    def shape(self, n: int) -> tuple[int, ...]:
        """The shape of one step's Jacobian for a state of length `n`."""

    @abc.abstractmethod
    def numbers(self, n: int) -> int:
        """The numbers stored per step for a state of length `n`."""

    @abc.abstractmethod
    def identity(self, n: int, dtype: DTypeLike = float) -> Array:
        """The identity transition for a state of length `n`."""

    @abc.abstractmethod
    def compose(self, a2: Array, a1: Array) -> Array:
        """The transition a2 ∘ a1 (first a1, then a2)."""

    @abc.abstractmethod
    def apply(self, a: Array, h: Inexact[Array, "... N"]) -> Inexact[Array, "... N"]:
        """a @ h, with h ravelled; leading axes broadcast."""

    @abc.abstractmethod
    def transpose(self, a: Array) -> Array:
        """aᵀ, in the same layout."""

    @abc.abstractmethod
    def from_dense(self, jac: Inexact[Array, "... N N"]) -> Array:
        """The part of a dense Jacobian that this structure keeps (its projection)."""

    @abc.abstractmethod
    def to_dense(self, a: Array) -> Inexact[Array, "... N N"]:
        """The dense (N, N) form of `a` (for tests and for denser solvers)."""

    @abc.abstractmethod
    def jacobian(self, f: Callable[[Array], Array], h: Inexact[Array, " N"]) -> tuple[Array, Array]:
        """f(h) and its Jacobian in this layout, by forward-mode autodiff.

        Exact when the true Jacobian has this structure (a diagonal one costs one JVP, a
        block-diagonal one k JVPs); otherwise it is *not* the projection (entries outside
        the structure leak in): project a dense Jacobian with `project` instead.
        """

    @abc.abstractmethod
    def size(self, a: Array) -> int:
        """The state length N of a Jacobian `a` in this layout (read from its trailing axes)."""

    def transpose_apply(self, a: Array, h: Inexact[Array, "... N"]) -> Inexact[Array, "... N"]:
        """aᵀ @ h (the adjoint's step), without forming aᵀ where the layout allows."""
        return self.apply(self.transpose(a), h)

    def check(self, n: int) -> None:
        """Raise `ValueError` if a state of length `n` does not fit this structure."""

    def project(self, jac: Array, source: "AbstractStructure") -> Array:
        """`jac`, given in the layout of `source`, in this layout.

        Onto a sparser structure this keeps the entries inside it (Dense → BlockDiagonal: the
        diagonal blocks; → Diagonal: the diagonal); onto a denser one it embeds exactly.
        """
        if source == self:
            return jac
        return self.from_dense(source.to_dense(jac))

    def combine(self, e1: tuple[Array, Array], e2: tuple[Array, Array]) -> tuple[Array, Array]:
        """The associative operator on steps (A, b): apply (A1, b1) first, then (A2, b2)."""
        a1, b1 = e1
        a2, b2 = e2
        return self.compose(a2, a1), self.apply(a2, b1) + b2

    def bytes(self, n: int, dtype) -> int:
        """Bytes of one step's Jacobian for a state of length `n`."""
        return self.numbers(n) * np.dtype(dtype).itemsize


class Diagonal(AbstractStructure):
    """A diagonal Jacobian, stored as its diagonal: shape (N,), N numbers per step."""

    def shape(self, n):
        return (n,)

    def numbers(self, n):
        return n

    def size(self, a):
        return a.shape[-1]

    def identity(self, n, dtype=float):
        return jnp.ones((n,), dtype)

    def compose(self, a2, a1):
        return a2 * a1

    def apply(self, a, h):
        return a * h

    def transpose(self, a):
        return a

    def from_dense(self, jac):
        return jnp.diagonal(jac, axis1=-2, axis2=-1)

    def to_dense(self, a):
        return a[..., :, None] * jnp.eye(a.shape[-1], dtype=a.dtype)

    def project(self, jac, source):
        if isinstance(source, BlockDiagonal):
            n = jac.shape[-3] * jac.shape[-1]
            return jnp.diagonal(jac, axis1=-2, axis2=-1).reshape(jac.shape[:-3] + (n,))
        return super().project(jac, source)

    def jacobian(self, f, h):
        return jax.jvp(f, (h,), (jnp.ones_like(h),))


class BlockDiagonal(AbstractStructure):
    """A block-diagonal Jacobian with k×k blocks: shape (N//k, k, k), N·k numbers per step.

    Block i acts on the contiguous entries [i·k, (i+1)·k) of the ravelled state; N must be a
    multiple of k.

    **Arguments:**

    - `k`: the block size, a positive int.
    """

    k: int = eqx.field(static=True)

    def __check_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"`k` (the block size) must be a positive int; got {self.k!r}.")

    def check(self, n):
        if n % self.k:
            raise ValueError(
                f"a state of size N = {n} does not split into blocks of size k = {self.k}; "
                "N must be a multiple of k."
            )

    def shape(self, n):
        return (n // self.k, self.k, self.k)

    def numbers(self, n):
        return n * self.k

    def size(self, a):
        return a.shape[-3] * self.k

    def identity(self, n, dtype=float):
        return jnp.broadcast_to(jnp.eye(self.k, dtype=dtype), self.shape(n))

    def compose(self, a2, a1):
        return a2 @ a1

    def apply(self, a, h):
        hb = h.reshape(h.shape[:-1] + (h.shape[-1] // self.k, self.k))
        out = jnp.einsum("...kij,...kj->...ki", a, hb)
        return out.reshape(out.shape[:-2] + (h.shape[-1],))

    def transpose(self, a):
        return jnp.swapaxes(a, -1, -2)

    def transpose_apply(self, a, h):
        hb = h.reshape(h.shape[:-1] + (h.shape[-1] // self.k, self.k))
        out = jnp.einsum("...kji,...kj->...ki", a, hb)
        return out.reshape(out.shape[:-2] + (h.shape[-1],))

    def from_dense(self, jac):
        n, k = jac.shape[-1], self.k
        blocks = jac.reshape(jac.shape[:-2] + (n // k, k, n // k, k))
        return jnp.moveaxis(jnp.diagonal(blocks, axis1=-4, axis2=-2), -1, -3)

    def to_dense(self, a):
        m, k = a.shape[-3], self.k
        eye = jnp.eye(m, dtype=a.dtype)
        # dense[i·k + p, j·k + q] = δ_ij a[i, p, q]
        dense = jnp.einsum("...ipq,ij->...ipjq", a, eye)
        return dense.reshape(a.shape[:-3] + (m * k, m * k))

    def project(self, jac, source):
        if isinstance(source, Diagonal):
            blocks = jac.shape[:-1] + (jac.shape[-1] // self.k, self.k)
            return jac.reshape(blocks)[..., None] * jnp.eye(self.k, dtype=jac.dtype)
        if isinstance(source, BlockDiagonal) and source.k % self.k == 0 and source != self:
            # Each source block splits into (source.k / k)² sub-blocks; keep the diagonal ones.
            j = source.k // self.k
            sub = jac.reshape(jac.shape[:-2] + (j, self.k, j, self.k))
            sub = jnp.diagonal(sub, axis1=-4, axis2=-2)  # (..., m, k, k, j)
            sub = jnp.moveaxis(sub, -1, -3)  # (..., m, j, k, k)
            return sub.reshape(jac.shape[:-3] + (-1, self.k, self.k))
        return super().project(jac, source)

    def jacobian(self, f, h):
        # Column q of every block at once: a tangent with ones at entry q of every block.
        k = self.k
        eye = jnp.eye(k, dtype=h.dtype)
        tangents = jnp.tile(eye, (1, h.shape[-1] // k))  # (k, N): row q = e_q in each block
        value = f(h)
        cols = jax.vmap(lambda t: jax.jvp(f, (h,), (t,))[1])(tangents)  # (k, N)
        # cols[q, i·k + p] = J[i·k + p, i·k + q]
        blocks = cols.reshape(k, -1, k).transpose(1, 2, 0)  # (m, p, q)
        return value, blocks


class Dense(AbstractStructure):
    """A full Jacobian: shape (N, N), N² numbers per step."""

    def shape(self, n):
        return (n, n)

    def numbers(self, n):
        return n * n

    def size(self, a):
        return a.shape[-1]

    def identity(self, n, dtype=float):
        return jnp.eye(n, dtype=dtype)

    def compose(self, a2, a1):
        return a2 @ a1

    def apply(self, a, h):
        return jnp.einsum("...ij,...j->...i", a, h)

    def transpose(self, a):
        return jnp.swapaxes(a, -1, -2)

    def transpose_apply(self, a, h):
        return jnp.einsum("...ji,...j->...i", a, h)

    def from_dense(self, jac):
        return jac

    def to_dense(self, a):
        return a

    def jacobian(self, f, h):
        holomorphic = jnp.issubdtype(h.dtype, jnp.complexfloating)
        jac, value = jax.jacfwd(lambda y: (f(y), f(y)), has_aux=True, holomorphic=holomorphic)(h)
        return value, jac


def infer_structure(a: Array, b: Array) -> AbstractStructure:
    """The structure of a stack of transitions `a` for states `b` of shape (..., N)."""
    extra = a.ndim - b.ndim
    if extra == 0:
        return Diagonal()
    if extra == 1:
        return Dense()
    if extra == 2:
        return BlockDiagonal(int(a.shape[-1]))
    raise ValueError(
        f"`a` must have shape (T, N) (diagonal), (T, N, N) (dense) or (T, K, k, k) "
        f"(block-diagonal, N = K·k); got shape {a.shape} for `b` of shape {b.shape}."
    )
