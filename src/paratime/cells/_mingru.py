"""minGRU (Feng et al., 2024): a GRU whose gates do not see the state, so it is linear in h."""

import math
from typing import Any

import jax
import jax.nn as jnn
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractLinearCell
from ._init import check_key, check_size, default_float, uniform


class MinGRU(AbstractLinearCell):
    """z = σ(W_z x + b_z), h̃ = W_h x + b_h, h' = (1 − z) ⊙ h + z ⊙ h̃.

    Linear and diagonal in h, so `unroll` with `Auto()` solves it exactly by one
    `linear_recurrence` (and every Newton solver converges in one step).

    **Raises:**

    `ValueError`/`TypeError` naming the argument, unless `input_size`, `hidden_size`: positive
    ints; `key` one PRNG key; `dtype` a real floating dtype.
    """

    weight_z: Float[Array, "N D"]
    bias_z: Float[Array, " N"]
    weight_h: Float[Array, "N D"]
    bias_h: Float[Array, " N"]

    def __init__(self, input_size: int, hidden_size: int, *, key: PRNGKeyArray, dtype=None):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        check_key(key)
        dtype = default_float(dtype)
        bound = 1 / math.sqrt(input_size)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.weight_z = uniform(k1, (hidden_size, input_size), bound, dtype)
        self.bias_z = uniform(k2, (hidden_size,), bound, dtype)
        self.weight_h = uniform(k3, (hidden_size, input_size), bound, dtype)
        self.bias_h = uniform(k4, (hidden_size,), bound, dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_z.shape[0],), (self.weight_z.shape[1],)

    def coefficients(self, x: Float[Array, " D"]) -> tuple[Float[Array, " N"], Float[Array, " N"]]:
        z = jnn.sigmoid(self.weight_z @ x + self.bias_z)
        return 1 - z, z * (self.weight_h @ x + self.bias_h)
