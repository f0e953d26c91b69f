"""A GRU whose recurrent weights are block-diagonal (heads of size k)."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractStructure, BlockDiagonal
from ._abstract import AbstractCell
from ._init import check_size, default_float, uniform


def _blocks_matvec(w: Float[Array, "K k k"], h: Float[Array, " N"]) -> Float[Array, " N"]:
    K, k, _ = w.shape
    return jnp.einsum("kij,kj->ki", w, h.reshape(K, k)).reshape(-1)


class BlockGRU(AbstractCell):
    """A GRU with PyTorch's equations whose recurrent weights are block-diagonal:

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h

    with each W_h· made of N/k blocks of size k×k on the diagonal: units [i·k, (i+1)·k) (a
    head) see only their own head's previous state. The Jacobian is `BlockDiagonal(k)`,
    layout (N/k, k, k): between the diagonal `DiagonalGRU` (k = 1, but with a different
    parametrisation) and the dense `GRU` (k = N, which this cell then equals exactly).

    **Parameters:** `weight_ih` (3N, D) and the biases `bias_ih`, `bias_hh` (3N,) as in `GRU`,
    U(−1/√N, 1/√N); `weight_hh` (3, N/k, k, k), gates (r, z, n), U(−1/√k, 1/√k) (PyTorch's
    rule with the fan-in of a block row, k).

    **Arguments:**

    - `input_size`: D.
    - `hidden_size`: N.
    - `block_size`: k, which must divide N.
    - `key`: a JAX PRNG key.
    - `dtype`: the parameters' float dtype (JAX's default float if None).

    **Example:**

    ```python
    cell = paratime.cells.BlockGRU(8, 16, block_size=4, key=jax.random.key(0))
    sol = paratime.unroll(cell, jnp.zeros(16), jnp.ones((1000, 8)))
    ```
    """

    weight_ih: Float[Array, "3N D"]
    weight_hh: Float[Array, "3 K k k"]
    bias_ih: Float[Array, " 3N"]
    bias_hh: Float[Array, " 3N"]
    block_size: int = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        block_size: int,
        key: PRNGKeyArray,
        dtype=None,
    ):
        D = check_size("input_size", input_size)
        N = check_size("hidden_size", hidden_size)
        k = check_size("block_size", block_size)
        if N % k:
            raise ValueError(f"`block_size` must divide hidden_size ({N}); got {k}.")
        dtype = default_float(dtype)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        bound = 1 / math.sqrt(N)
        self.block_size = k
        self.weight_ih = uniform(k1, (3 * N, D), bound, dtype)
        self.weight_hh = uniform(k2, (3, N // k, k, k), 1 / math.sqrt(k), dtype)
        self.bias_ih = uniform(k3, (3 * N,), bound, dtype)
        self.bias_hh = uniform(k4, (3 * N,), bound, dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_ih.shape[0] // 3,), (self.weight_ih.shape[1],)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return BlockDiagonal(self.block_size)

    def _gates(self, h, gi):
        gi = jnp.split(gi, 3)
        gh = [_blocks_matvec(w, h) + b for w, b in zip(self.weight_hh, jnp.split(self.bias_hh, 3))]
        r = jnn.sigmoid(gi[0] + gh[0])
        z = jnn.sigmoid(gi[1] + gh[1])
        n = jnp.tanh(gi[2] + r * gh[2])
        return (1 - z) * n + z * h, (r, z, n, gh[2])

    def __call__(self, h: Float[Array, " N"], x: Float[Array, " D"]) -> Float[Array, " N"]:
        return self._gates(h, self.weight_ih @ x + self.bias_ih)[0]

    def trajectory(self, h0: Float[Array, " N"], xs: Float[Array, "T D"]) -> Float[Array, "T N"]:
        """The states h_1..h_T by a `lax.scan` whose input projections are computed for all
        steps at once (the same values as `__call__`)."""
        gis = xs @ self.weight_ih.T + self.bias_ih

        def step(h, gi):
            h = self._gates(h, gi)[0]
            return h, h

        return lax.scan(step, h0, gis)[1]

    def _pieces(self, h, x):
        value, (r, z, n, ghn) = self._gates(h, self.weight_ih @ x + self.bias_ih)
        dn = (1 - z) * (1 - n**2)  # ∂h'/∂(pre-activation of n)
        coefs = jnp.stack([dn * ghn * r * (1 - r), (h - n) * z * (1 - z), dn * r])  # r, z, n
        return value, z, coefs

    def value_and_jacobian(
        self, h: Float[Array, " N"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, " N"], Float[Array, "K k k"]]:
        """The next state and the exact Jacobian in `BlockDiagonal(k)` layout (N/k, k, k)."""
        value, z, coefs = self._pieces(h, x)
        K, k = self.weight_hh.shape[1:3]
        jac = jnp.einsum("gki,gkij->kij", coefs.reshape(3, K, k), self.weight_hh)
        eye = jnp.eye(k, dtype=jac.dtype)
        return value, jac + z.reshape(K, k)[:, :, None] * eye

    def value_and_jacobian_diagonal(
        self, h: Float[Array, " N"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, " N"], Float[Array, " N"]]:
        value, z, coefs = self._pieces(h, x)
        diag = jnp.diagonal(self.weight_hh, axis1=-2, axis2=-1).reshape(3, -1)
        return value, jnp.sum(coefs * diag, axis=0) + z
