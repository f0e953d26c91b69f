"""The Elman (vanilla tanh) cell."""

import math
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractCell
from ._init import check_key, check_real, check_size, default_float, uniform


class Elman(AbstractCell):
    """h_t = tanh(W h_{t-1} + U x_t + b).

    **Arguments:**

    - `input_size`, `hidden_size`: D and N.
    - `key`: PRNG key.
    - `weight_scale`: W is drawn N(0, weight_scale²/N), so its spectral radius is about
        `weight_scale`. Values below 1 give a contractive cell; large values (e.g. 3) a chaotic one.
    - `dtype`: parameter dtype (default: JAX's default float).

    **Raises:**

    `ValueError`/`TypeError` naming the argument, unless `input_size`, `hidden_size`: positive
    ints; `weight_scale`: finite, >= 0; `key` one PRNG key; `dtype` a real floating dtype.
    """

    weight_hh: Float[Array, "N N"]
    weight_ih: Float[Array, "N D"]
    bias: Float[Array, " N"]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: PRNGKeyArray,
        weight_scale: float = 0.9,
        dtype=None,
    ):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        check_key(key)
        weight_scale = check_real("weight_scale", weight_scale, low=0.0)
        dtype = default_float(dtype)
        k1, k2, k3 = jax.random.split(key, 3)
        scale = weight_scale / math.sqrt(hidden_size)
        self.weight_hh = scale * jax.random.normal(k1, (hidden_size, hidden_size), dtype)
        self.weight_ih = uniform(k2, (hidden_size, input_size), 1 / math.sqrt(input_size), dtype)
        self.bias = uniform(k3, (hidden_size,), 1 / math.sqrt(hidden_size), dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_ih.shape[0],), (self.weight_ih.shape[1],)

    def __call__(self, h: Float[Array, " N"], x: Float[Array, " D"]) -> Float[Array, " N"]:
        return jnp.tanh(self.weight_hh @ h + self.weight_ih @ x + self.bias)

    def value_and_jacobian(self, h, x):
        h_next = self(h, x)
        return h_next, (1 - h_next**2)[:, None] * self.weight_hh

    def value_and_jacobian_diagonal(self, h, x):
        h_next = self(h, x)
        return h_next, (1 - h_next**2) * jnp.diagonal(self.weight_hh)
