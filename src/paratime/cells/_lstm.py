"""The LSTM cell, with PyTorch's equations and parameter layout; its state is (h, c)."""

import math
from typing import Any

import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractCell
from ._init import check_key, check_size, default_float, uniform

State = tuple[Float[Array, " N"], Float[Array, " N"]]


class LSTM(AbstractCell):
    """A long short-term memory cell, following `torch.nn.LSTM` exactly:

    (i, f, g, o) = (σ, σ, tanh, σ)(W_ih x + b_ih + W_hh h + b_hh)
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

    The state is the tuple `(h, c)`; the ravelled state (for Jacobians) is `[h, c]`, N = 2n.
    Parameters are stacked in PyTorch's gate order (i, f, g, o): `weight_ih` (4n, D),
    `weight_hh` (4n, n), `bias_ih`, `bias_hh` (4n,), initialised U(−1/√n, 1/√n).

    **Raises:**

    `ValueError`/`TypeError` naming the argument, unless `input_size`, `hidden_size`: positive
    ints; `key` one PRNG key; `dtype` a real floating dtype.
    """

    weight_ih: Float[Array, "4N D"]
    weight_hh: Float[Array, "4N N"]
    bias_ih: Float[Array, " 4N"]
    bias_hh: Float[Array, " 4N"]

    def __init__(self, input_size: int, hidden_size: int, *, key: PRNGKeyArray, dtype=None):
        input_size = check_size("input_size", input_size)
        hidden_size = check_size("hidden_size", hidden_size)
        check_key(key)
        dtype = default_float(dtype)
        bound = 1 / math.sqrt(hidden_size)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        n = hidden_size
        self.weight_ih = uniform(k1, (4 * n, input_size), bound, dtype)
        self.weight_hh = uniform(k2, (4 * n, n), bound, dtype)
        self.bias_ih = uniform(k3, (4 * n,), bound, dtype)
        self.bias_hh = uniform(k4, (4 * n,), bound, dtype)

    def _forward(self, state: State, x):
        h, c = state
        pre = self.weight_ih @ x + self.bias_ih + self.weight_hh @ h + self.bias_hh
        pi, pf, pg, po = jnp.split(pre, 4)
        i, f, g, o = jnn.sigmoid(pi), jnn.sigmoid(pf), jnp.tanh(pg), jnn.sigmoid(po)
        c_next = f * c + i * g
        tc = jnp.tanh(c_next)
        return (o * tc, c_next), (i, f, g, o, tc, c)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        n = self.weight_hh.shape[1]
        return ((n,), (n,)), (self.weight_ih.shape[1],)

    def output(self, state: State) -> Float[Array, "*T n"]:
        """The hidden vector h of a state `(h, c)` (or the h_t of a trajectory), as
        `torch.nn.LSTM` outputs it."""
        return state[0]

    def __call__(self, state: State, x: Float[Array, " D"]) -> State:
        return self._forward(state, x)[0]

    def trajectory(self, h0: State, xs: Float[Array, "T D"]) -> State:
        """The states (h_t, c_t), t = 1..T, by a loop that projects all inputs at once and
        takes one `tanh` over the four gates' pre-activations per step (σ(a) = (1 + tanh(a/2))
        / 2): the same values as `__call__` to rounding, and faster on a CPU (see
        docs/benchmarks.md)."""
        n = self.weight_hh.shape[1]
        dtype = self.weight_hh.dtype
        half, one = jnp.full(n, 0.5, dtype), jnp.ones(n, dtype)
        scale = jnp.concatenate([half, half, one, half])
        inputs = xs @ self.weight_ih.T + self.bias_ih + self.bias_hh

        def step(state, u):
            h, c = state
            y = jnp.tanh((u + self.weight_hh @ h) * scale)
            i, f, g, o = jnp.split(y, 4)
            c = (0.5 * f + 0.5) * c + (0.5 * i + 0.5) * g
            h = (0.5 * o + 0.5) * jnp.tanh(c)
            return (h, c), (h, c)

        return lax.scan(step, h0, inputs)[1]

    def _coefficients(self, i, f, g, o, tc, c):
        # d c' / d pre-activations (i, f, g) and d h' / d c', elementwise.
        dc = (g * i * (1 - i), c * f * (1 - f), i * (1 - g**2))
        dh_dc = o * (1 - tc**2)
        dh_do = tc * o * (1 - o)
        return dc, dh_dc, dh_do

    def value_and_jacobian(self, state, x):
        value, (i, f, g, o, tc, c) = self._forward(state, x)
        (ci, cf, cg), dh_dc, dh_do = self._coefficients(i, f, g, o, tc, c)
        w_i, w_f, w_g, w_o = jnp.split(self.weight_hh, 4)
        dc_dh = ci[:, None] * w_i + cf[:, None] * w_f + cg[:, None] * w_g
        dh_dh = dh_do[:, None] * w_o + dh_dc[:, None] * dc_dh
        top = jnp.concatenate([dh_dh, jnp.diag(dh_dc * f)], axis=1)
        bottom = jnp.concatenate([dc_dh, jnp.diag(f)], axis=1)
        return value, jnp.concatenate([top, bottom], axis=0)

    def value_and_jacobian_diagonal(self, state, x):
        value, (i, f, g, o, tc, c) = self._forward(state, x)
        (ci, cf, cg), dh_dc, dh_do = self._coefficients(i, f, g, o, tc, c)
        w_i, w_f, w_g, w_o = (jnp.diagonal(w) for w in jnp.split(self.weight_hh, 4))
        dh_dh = dh_do * w_o + dh_dc * (ci * w_i + cf * w_f + cg * w_g)
        return value, jnp.concatenate([dh_dh, f])
