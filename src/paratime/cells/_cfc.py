"""A closed-form continuous-time (CfC) cell with diagonal recurrence."""

from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractStructure, Diagonal
from ._abstract import AbstractCell
from ._heads import glorot_uniform, small_normal
from ._init import check_size, default_float


def _step(weight_hh, timespan, pre, h):
    a_f, a_g, a_k = weight_hh
    rate = a_f * h + pre[0]
    s = jnn.sigmoid(-rate * timespan)
    g = jnp.tanh(a_g * h + pre[1])
    k = jnp.tanh(a_k * h + pre[2])
    return s * g + (1 - s) * k, (s, g, k)


class CfC(AbstractCell):
    """A closed-form continuous-time cell (Hasani et al., 2022, "Closed-form continuous-time
    neural networks"), with the state entering every head through a diagonal weight so that
    the Jacobian is diagonal:

    f = a_f ⊙ h + W_f x + b_f                (the rate)
    g = tanh(a_g ⊙ h + W_g x + b_g)
    k = tanh(a_k ⊙ h + W_k x + b_k)
    s = σ(−f · Δt)                           (the time gate)
    h' = s ⊙ g + (1 − s) ⊙ k

    Δt (`timespan`) is the time between two samples; the paper's f, g, k are heads of one
    backbone network over [h, x], here reduced to one affine layer with a diagonal state part.

    **Parameters:** `weight_hh` (3, N), the diagonals (a_f, a_g, a_k), drawn
    N(0, (2/√(5N))²) as ParaRNN draws its diagonals; `weight_ih` (3, N, D), Glorot-uniform;
    `bias` (3, N), zero.

    The Jacobian structure is `Diagonal()`.

    **Arguments:**

    - `input_size`: D.
    - `hidden_size`: N.
    - `timespan`: Δt > 0 (default 1.0).
    - `key`: a JAX PRNG key.
    - `dtype`: the parameters' float dtype (JAX's default float if None).

    **Example:**

    ```python
    cell = paratime.cells.CfC(8, 16, timespan=0.1, key=jax.random.key(0))
    sol = paratime.unroll(cell, jnp.zeros(16), jnp.ones((1000, 8)))
    ```
    """

    weight_hh: Float[Array, "3 N"]
    weight_ih: Float[Array, "3 N D"]
    bias: Float[Array, "3 N"]
    timespan: float = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        key: PRNGKeyArray,
        timespan: float = 1.0,
        dtype=None,
    ):
        D = check_size("input_size", input_size)
        N = check_size("hidden_size", hidden_size)
        if isinstance(timespan, bool) or not isinstance(timespan, int | float) or timespan <= 0:
            raise ValueError(f"`timespan` must be a positive number; got {timespan!r}.")
        dtype = default_float(dtype)
        k1, k2 = jax.random.split(key)
        self.timespan = float(timespan)
        self.weight_hh = small_normal(k1, (3, N), N, dtype)
        self.weight_ih = glorot_uniform(k2, (3, N, D), D, N, dtype)
        self.bias = jnp.zeros((3, N), dtype)

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_ih.shape[1],), (self.weight_ih.shape[2],)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return Diagonal()

    def _pre(self, x):
        x = x.astype(self.weight_ih.dtype)
        return jnp.einsum("gnd,...d->...gn", self.weight_ih, x) + self.bias

    def __call__(self, h: Float[Array, " N"], x: Float[Array, " D"]) -> Float[Array, " N"]:
        return _step(self.weight_hh, self.timespan, self._pre(x), h)[0]

    def trajectory(self, h0: Float[Array, " N"], xs: Float[Array, "T D"]) -> Float[Array, "T N"]:
        """The states by a `lax.scan` whose input projections are computed for all steps at
        once (the same values as `__call__`)."""

        def step(h, p):
            h = _step(self.weight_hh, self.timespan, p, h)[0]
            return h, h

        return lax.scan(step, h0, self._pre(xs))[1]

    def value_and_jacobian_diagonal(
        self, h: Float[Array, " N"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, " N"], Float[Array, " N"]]:
        a_f, a_g, a_k = self.weight_hh
        value, (s, g, k) = _step(self.weight_hh, self.timespan, self._pre(x), h)
        ds = -self.timespan * s * (1 - s) * a_f
        jac = ds * (g - k) + s * (1 - g**2) * a_g + (1 - s) * (1 - k**2) * a_k
        return value, jac

    def value_and_jacobian(self, h, x):
        """The next state and the exact Jacobian in `Diagonal()` layout: its (N,) diagonal."""
        return self.value_and_jacobian_diagonal(h, x)
