"""ParaRNN's diagonal LSTM: coupled input/forget gates, diagonal recurrent and peephole weights;
one 2×2 Jacobian block per unit."""

from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractStructure, BlockDiagonal
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


def _step(weight_hh, peephole, pre, state):
    """One step from the input pre-activations `pre` (3, n) = B x + b (rows f, ĉ, o)."""
    (c_next, h_next), pieces = _gates(weight_hh, peephole, pre, state[:, 0], state[:, 1])
    return jnp.stack([c_next, h_next], axis=-1), pieces


def _gates(weight_hh, peephole, pre, c, h):
    a_f, a_c, a_o = weight_hh
    f = jnn.sigmoid(a_f * h + pre[0] + peephole[0] * c)
    cand = jnp.tanh(a_c * h + pre[1])
    c_next = f * c + (1 - f) * cand
    o = jnn.sigmoid(a_o * h + pre[2] + peephole[1] * c_next)
    tc = jnp.tanh(c_next)
    return (c_next, o * tc), (c, h, f, cand, o, tc)


def _value_and_blocks(weight_hh, peephole, pre, c, h):
    """(c', h') and each unit's 2×2 Jacobian block (∂c'/∂c, ∂c'/∂h, ∂h'/∂c, ∂h'/∂h),
    elementwise (also run inside the fused Newton kernel, on per-unit vectors)."""
    value, (c, h, f, cand, o, tc) = _gates(weight_hh, peephole, pre, c, h)
    a_f, a_c, a_o = weight_hh
    p_f, p_o = peephole
    df = f * (1 - f) * (c - cand)  # ∂c'/∂(pre-activation of f)
    dc_dc = f + df * p_f
    dc_dh = df * a_f + (1 - f) * (1 - cand**2) * a_c
    do = o * (1 - o) * tc  # ∂h'/∂(pre-activation of o)
    dh_dcnew = do * p_o + o * (1 - tc**2)  # total ∂h'/∂c' (through o and tanh)
    dh_dc = dh_dcnew * dc_dc
    dh_dh = do * a_o + dh_dcnew * dc_dh
    return value, (dc_dc, dc_dh, dh_dc, dh_dh)


def _fused_step(params, pre, state):
    """The fused Newton kernel's step: (c, h) per unit (k = 2); `params` are the rows
    (a_f, a_c, a_o, p_f, p_o)."""
    return _value_and_blocks(params[:3], params[3:], pre, *state)


class DiagonalLSTM(AbstractCell):
    """ParaRNN's LSTM (ParaLSTM): coupled input and forget gates (i = 1 − f), and diagonal
    recurrent and peephole weights, so that each unit's (c, h) depends only on its own
    previous (c, h): the Jacobian is block-diagonal with one 2×2 block per unit.

    f = σ(a_f ⊙ h + B_f x + p_f ⊙ c + b_f)
    ĉ = tanh(a_c ⊙ h + B_c x + b_c)
    c' = f ⊙ c + (1 − f) ⊙ ĉ
    o = σ(a_o ⊙ h + B_o x + p_o ⊙ c' + b_o)
    h' = o ⊙ tanh(c')

    The forget gate's peephole reads the previous cell state c and the output gate's reads
    the new one c', as in ParaRNN's implementation (and in Gers et al.'s peephole LSTM).
    The input projections are block-diagonal by heads, as in `DiagonalGRU`.

    **State layout:** one array of shape (n, 2): `state[:, 0]` is c and `state[:, 1]` is h.
    Ravelled, it reads c_1, h_1, c_2, h_2, ..., so unit i's 2×2 block sits on the contiguous
    entries [2i, 2i+2) and the Jacobian is `BlockDiagonal(2)`, layout (n, 2, 2) with block i =
    [[∂c'_i/∂c_i, ∂c'_i/∂h_i], [∂h'_i/∂c_i, ∂h'_i/∂h_i]]. Start from `jnp.zeros((n, 2))`; the
    outputs are `states[..., 1]` (see `output`).

    **Parameters** (initialised as ParaRNN does): `weight_hh` (3, n), the diagonals
    (a_f, a_c, a_o), and `peephole` (2, n), (p_f, p_o), drawn N(0, (2/√(5n))²); `weight_ih`
    (3, H, n/H, D/H), each head's block Glorot-uniform; `bias` (3, n), zero except b_f, which
    runs from 0 to −1 across the units.

    **Arguments:**

    - `input_size`: D.
    - `hidden_size`: n, the number of units (the ravelled state has 2n entries).
    - `num_heads`: H, which must divide both D and n (default 1).
    - `key`: a JAX PRNG key.
    - `dtype`: the parameters' float dtype (JAX's default float if None).

    **Example:**

    ```python
    cell = paratime.cells.DiagonalLSTM(8, 16, num_heads=2, key=jax.random.key(0))
    sol = paratime.unroll(cell, cell.init_state(), jnp.ones((1000, 8)))
    hs = cell.output(sol.states)  # (1000, 16)
    ```
    """

    weight_hh: Float[Array, "3 n"]
    peephole: Float[Array, "2 n"]
    weight_ih: Float[Array, "3 H m d"]
    bias: Float[Array, "3 n"]
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
        n = check_size("hidden_size", hidden_size)
        H = check_heads(D, n, num_heads)
        dtype = default_float(dtype)
        k1, k2, k3 = jax.random.split(key, 3)
        self.num_heads = H
        self.weight_hh = small_normal(k1, (3, n), n, dtype)
        self.peephole = small_normal(k2, (2, n), n, dtype)
        self.weight_ih = glorot_uniform(k3, (3, H, n // H, D // H), D // H, n // H, dtype)
        self.bias = gate_bias(3, n, dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        _, heads, _, d = self.weight_ih.shape
        return (self.weight_hh.shape[1], 2), (heads * d,)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return BlockDiagonal(2)

    def output(self, state: Float[Array, "*T n 2"]) -> Float[Array, "*T n"]:
        """The outputs h of a state (n, 2) or of a trajectory of states (T, n, 2)."""
        return state[..., 1]

    def __call__(self, state: Float[Array, "n 2"], x: Float[Array, " D"]) -> Float[Array, "n 2"]:
        pre = head_projection(self.weight_ih, self.bias, x)
        return _step(self.weight_hh, self.peephole, pre, state)[0]

    def trajectory(self, h0: Float[Array, "n 2"], xs: Float[Array, "T D"]) -> Float[Array, "T n 2"]:
        """The states by a `lax.scan` whose input projections are computed for all steps at
        once (the same values as `__call__`)."""
        pre = head_projection(self.weight_ih, self.bias, xs)

        def step(state, p):
            state = _step(self.weight_hh, self.peephole, p, state)[0]
            return state, state

        return lax.scan(step, h0, pre)[1]

    def _blocks(self, state, x):
        pre = head_projection(self.weight_ih, self.bias, x)
        value, blocks = _value_and_blocks(
            self.weight_hh, self.peephole, pre, state[:, 0], state[:, 1]
        )
        return jnp.stack(value, axis=-1), blocks

    def value_and_jacobian(
        self, state: Float[Array, "n 2"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, "n 2"], Float[Array, "n 2 2"]]:
        """The next state and the exact Jacobian in `BlockDiagonal(2)` layout (n, 2, 2)."""
        value, (cc, ch, hc, hh) = self._blocks(state, x)
        jac = jnp.stack([jnp.stack([cc, ch], -1), jnp.stack([hc, hh], -1)], -2)
        return value, jac

    def fused_newton_parts(self, xs: Float[Array, "T D"]) -> FusedParts:
        """What `paratime.recurrences.Pallas()` needs to run each Newton iteration as one
        kernel: the diagonal and peephole weights (5, n), the input pre-activations of all
        steps (T, 3, n) and the step."""
        pre = head_projection(self.weight_ih, self.bias, xs)
        params = jnp.concatenate([self.weight_hh, self.peephole])
        return FusedParts(2, params, pre, _fused_step)

    def value_and_jacobian_diagonal(
        self, state: Float[Array, "n 2"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, "n 2"], Float[Array, " N"]]:
        value, (cc, _, _, hh) = self._blocks(state, x)
        return value, jnp.stack([cc, hh], -1).reshape(-1)
