"""ParaRNN's diagonal GRU: elementwise recurrence, head-wise input projections."""

from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractStructure, Diagonal
from .._engine._kernels._parts import FusedParts
from ._abstract import AbstractCell
from ._heads import (
    check_heads,
    gate_bias,
    glorot_uniform,
    head_projection,
    small_normal,
)
from ._init import check_size, default_float


def _step(weight_hh, pre, h):
    """One step from the input pre-activations `pre` (3, N) = B x + b; returns the pieces the
    Jacobian needs too."""
    a_z, a_r, a_h = weight_hh
    z = jnn.sigmoid(a_z * h + pre[0])
    r = jnn.sigmoid(a_r * h + pre[1])
    cand = jnp.tanh(a_h * (r * h) + pre[2])
    return (1 - z) * h + z * cand, (z, r, cand)


def _value_and_jacobian(weight_hh, pre, h):
    """The next state and the diagonal of its Jacobian, elementwise (also run inside the
    fused Newton kernel, on per-unit vectors)."""
    a_z, a_r, a_h = weight_hh
    value, (z, r, cand) = _step(weight_hh, pre, h)
    dcand = (1 - cand**2) * a_h * (r + h * r * (1 - r) * a_r)
    jac = (1 - z) + (cand - h) * z * (1 - z) * a_z + z * dcand
    return value, jac


def _fused_step(params, pre, state):
    """The fused Newton kernel's step: one state component per unit (k = 1)."""
    value, jac = _value_and_jacobian(params, pre, state[0])
    return (value,), (jac,)


class DiagonalGRU(AbstractCell):
    """ParaRNN's GRU (ParaGRU): every recurrent weight is diagonal, so the Jacobian
    d h' / d h is diagonal and exact Newton costs O(N) per step.

    z = σ(a_z ⊙ h + B_z x + b_z)
    r = σ(a_r ⊙ h + B_r x + b_r)
    ĥ = tanh(a_h ⊙ (r ⊙ h) + B_h x + b_h)
    h' = (1 − z) ⊙ h + z ⊙ ĥ

    The input projections B_z, B_r, B_h are block-diagonal by heads: head i of the state
    (N/H units) reads only head i of the input (D/H features).

    **Parameters** (initialised as ParaRNN does): `weight_hh` (3, N), the diagonals
    (a_z, a_r, a_h), drawn N(0, (2/√(5N))²); `weight_ih` (3, H, N/H, D/H), each head's block
    Glorot-uniform with fans (D/H, N/H); `bias` (3, N), zero except b_z, which runs from 0 to −1
    across the units (so z ≤ 1/2 at the start and the state is kept).

    The Jacobian structure is `Diagonal()`: `value_and_jacobian` returns the (N,) diagonal.

    **Arguments:**

    - `input_size`: D.
    - `hidden_size`: N.
    - `num_heads`: H, which must divide both D and N (default 1: dense input projections).
    - `key`: a JAX PRNG key.
    - `dtype`: the parameters' float dtype (JAX's default float if None).

    **Example:**

    ```python
    cell = paratime.cells.DiagonalGRU(8, 16, num_heads=2, key=jax.random.key(0))
    sol = paratime.unroll(cell, jnp.zeros(16), jnp.ones((1000, 8)))
    ```
    """

    weight_hh: Float[Array, "3 N"]
    weight_ih: Float[Array, "3 H n d"]
    bias: Float[Array, "3 N"]
    num_heads: int = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: PRNGKeyArray,
        num_heads: int = 1,
        dtype=None,
    ):
        D = check_size("input_size", input_size)
        N = check_size("hidden_size", hidden_size)
        H = check_heads(D, N, num_heads)
        dtype = default_float(dtype)
        k1, k2 = jax.random.split(key)
        self.num_heads = H
        self.weight_hh = small_normal(k1, (3, N), N, dtype)
        self.weight_ih = glorot_uniform(k2, (3, H, N // H, D // H), D // H, N // H, dtype)
        self.bias = gate_bias(3, N, dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        _, heads, _, d = self.weight_ih.shape
        return (self.weight_hh.shape[1],), (heads * d,)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return Diagonal()

    def __call__(self, h: Float[Array, " N"], x: Float[Array, " D"]) -> Float[Array, " N"]:
        return _step(self.weight_hh, head_projection(self.weight_ih, self.bias, x), h)[0]

    def trajectory(self, h0: Float[Array, " N"], xs: Float[Array, "T D"]) -> Float[Array, "T N"]:
        """The states h_1..h_T by a `lax.scan` whose input projections are computed for all
        steps at once (the same values as `__call__`)."""
        pre = head_projection(self.weight_ih, self.bias, xs)

        def step(h, p):
            h = _step(self.weight_hh, p, h)[0]
            return h, h

        return lax.scan(step, h0, pre)[1]

    def value_and_jacobian_diagonal(
        self, h: Float[Array, " N"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, " N"], Float[Array, " N"]]:
        pre = head_projection(self.weight_ih, self.bias, x)
        return _value_and_jacobian(self.weight_hh, pre, h)

    def value_and_jacobian(self, h, x):
        """The next state and the exact Jacobian in `Diagonal()` layout: its (N,) diagonal."""
        return self.value_and_jacobian_diagonal(h, x)

    def fused_newton_parts(self, xs: Float[Array, "T D"]) -> FusedParts:
        """What `paratime.recurrences.Pallas()` needs to run each Newton iteration as one
        kernel: the diagonals, the input pre-activations of all steps (T, 3, N) and the step."""
        pre = head_projection(self.weight_ih, self.bias, xs)
        return FusedParts(1, self.weight_hh, pre, _fused_step)
