"""The GRU cell, with PyTorch's equations and parameter layout."""

import math
from typing import Any

import jax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractCell
from ._init import check_key, check_size, default_float, uniform


class GRU(AbstractCell):
    """A gated recurrent unit, following `torch.nn.GRU` exactly:

    r = σ(W_ir x + b_ir + W_hr h + b_hr)
    z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h

    Parameters are stacked in PyTorch's order (r, z, n): `weight_ih` (3N, D), `weight_hh`
    (3N, N), `bias_ih` and `bias_hh` (3N,), initialised U(−1/√N, 1/√N). (Equinox's `GRUCell`
    uses the same equations with a single bias on the `n` hidden term.)

    **Raises:**

    `ValueError`/`TypeError` naming the argument, unless `input_size`, `hidden_size`: positive
    ints; `key` one PRNG key; `dtype` a real floating dtype.
    """

    weight_ih: Float[Array, "3N D"]
    weight_hh: Float[Array, "3N N"]
    bias_ih: Float[Array, " 3N"]
    bias_hh: Float[Array, " 3N"]

    def __init__(self, input_size: int, hidden_size: int, *, key: PRNGKeyArray, dtype=None):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        check_key(key)
        dtype = default_float(dtype)
        bound = 1 / math.sqrt(hidden_size)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        N = hidden_size
        self.weight_ih = uniform(k1, (3 * N, input_size), bound, dtype)
        self.weight_hh = uniform(k2, (3 * N, N), bound, dtype)
        self.bias_ih = uniform(k3, (3 * N,), bound, dtype)
        self.bias_hh = uniform(k4, (3 * N,), bound, dtype)

    def _gates(self, h, x):
        gi = jnp.split(self.weight_ih @ x + self.bias_ih, 3)
        gh = jnp.split(self.weight_hh @ h + self.bias_hh, 3)
        r = jnn.sigmoid(gi[0] + gh[0])
        z = jnn.sigmoid(gi[1] + gh[1])
        n = jnp.tanh(gi[2] + r * gh[2])
        return r, z, n, gh[2]

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_hh.shape[1],), (self.weight_ih.shape[1],)

    def __call__(self, h: Float[Array, " N"], x: Float[Array, " D"]) -> Float[Array, " N"]:
        r, z, n, _ = self._gates(h, x)
        return (1 - z) * n + z * h

    def _pieces(self, h, x):
        r, z, n, ghn = self._gates(h, x)
        value = (1 - z) * n + z * h
        dn = (1 - z) * (1 - n**2)  # d h' / d(pre-activation of n)
        coef_r = dn * ghn * r * (1 - r)
        coef_n = dn * r
        coef_z = (h - n) * z * (1 - z)
        return value, z, coef_r, coef_z, coef_n

    def value_and_jacobian(self, h, x):
        value, z, coef_r, coef_z, coef_n = self._pieces(h, x)
        w_r, w_z, w_n = jnp.split(self.weight_hh, 3)
        jac = coef_r[:, None] * w_r + coef_z[:, None] * w_z + coef_n[:, None] * w_n
        return value, jac + jnp.diag(z)

    def value_and_jacobian_diagonal(self, h, x):
        value, z, coef_r, coef_z, coef_n = self._pieces(h, x)
        w_r, w_z, w_n = (jnp.diagonal(w) for w in jnp.split(self.weight_hh, 3))
        return value, coef_r * w_r + coef_z * w_z + coef_n * w_n + z
