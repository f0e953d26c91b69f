"""The per-step algebra of the kernels, on lists of per-channel vectors.

A step's transition is held as a tuple of vectors, one per channel block: `Diag` one (h = a·h
+ b, real), `Complex` two (a = a_re + i·a_im acting on (h_re, h_im)), `Block(k)` k² (a k×k
matrix per unit, row-major, acting on k state components). The same functions run inside a
kernel (on (BC,) tiles) and in XLA (on whole arrays, for the carry pass between chunks).
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp

Vectors = Sequence


class Op(eqx.Module):
    """The algebra of one kind of transition: `k` state components per unit, `na` numbers
    per transition; `apply`, `compose` and `identity` on tuples of vectors."""

    k: int = eqx.field(static=True)
    na: int = eqx.field(static=True)
    kind: str = eqx.field(static=True)

    def apply(self, a: Vectors, h: Vectors) -> tuple:
        """a·h."""
        if self.kind == "complex":
            (ar, ai), (hr, hi) = a, h
            return ar * hr - ai * hi, ar * hi + ai * hr
        k = self.k
        return tuple(sum(a[i * k + j] * h[j] for j in range(k)) for i in range(k))

    def step(self, a: Vectors, h: Vectors, b: Vectors) -> tuple:
        """a·h + b."""
        return tuple(x + y for x, y in zip(self.apply(a, h), b))

    def compose(self, a2: Vectors, a1: Vectors) -> tuple:
        """a2·a1 (first a1, then a2)."""
        if self.kind == "complex":
            return self.apply(a2, a1)
        k = self.k
        return tuple(
            sum(a2[i * k + m] * a1[m * k + j] for m in range(k)) for i in range(k) for j in range(k)
        )

    def identity(self, like) -> tuple:
        """The identity transition, as vectors shaped like `like`."""
        one, zero = jnp.ones_like(like), jnp.zeros_like(like)
        if self.kind == "complex":
            return one, zero
        return tuple(one if i == j else zero for i in range(self.k) for j in range(self.k))


def diagonal() -> Op:
    return Op(1, 1, "real")


def complex_diagonal() -> Op:
    return Op(2, 2, "complex")


def block(k: int) -> Op:
    return Op(k, k * k, "real")
