"""xLSTM's sLSTM cell, in a smooth normalised form; head-wise recurrence."""

from typing import Any

import equinox as eqx
import jax
import jax.lax as lax
import jax.nn as jnn
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._engine import AbstractStructure, BlockDiagonal
from ._abstract import AbstractCell
from ._heads import check_heads, glorot_uniform, small_normal
from ._init import check_size, default_float


class SLSTM(AbstractCell):
    """The sLSTM of xLSTM (Beck et al., 2024): exponential input gating, a normaliser, and
    recurrent weights that are block-diagonal by heads.

    xLSTM writes it with a cell state c, a normaliser n and a stabiliser m:

        u_g = W_g x + R_g h + b_g,  g ∈ {z, i, f, o}   (R_g block-diagonal: H heads of size d)
        z = tanh(u_z), o = σ(u_o), log f = log σ(u_f), log i = u_i
        m' = max(log f + m, log i), i' = exp(log i − m'), f' = exp(log f + m − m')
        c' = f' c + i' z,  n' = f' n + i',  h' = o c' / n'

    This cell keeps, per unit, the ratio r = c/n, the log-normaliser ℓ = log n + m and h:

        w = σ(log f + ℓ − log i)
        ℓ' = logaddexp(log f + ℓ, log i)
        r' = w r + (1 − w) z
        h' = o r'

    which gives the same h' for every input (r and ℓ are invariant under the stabiliser's
    rescaling), is smooth (no max), and has a contractive core: ∂r'/∂r = ∂ℓ'/∂ℓ = w ∈ (0, 1).
    With the (c, n, m) form, exact Newton from a zero or one-step guess diverged in every case
    tried (T = 200 and 2000): the max switches branch between iterates, and n sits in a
    denominator.

    **State layout:** one array of shape (N, 3) holding (r, ℓ, h) per unit. Ravelled, the 3d
    entries of head j's units are contiguous and depend only on their own head's previous
    state, so the Jacobian is `BlockDiagonal(3·d)`, layout (H, 3d, 3d). `jnp.zeros((N, 3))`
    starts from a normaliser n_0 = 1; set ℓ_0 very negative (e.g. −30) for xLSTM's n_0 = 0.
    The outputs are `states[..., 2]` (`output`).

    **Parameters:** `weight_ih` (4, N, D) gates (z, i, f, o), Glorot-uniform; `weight_hh`
    (4, H, d, d), N(0, (2/√(5d))²) (the xLSTM-style scale); `bias` (4, N), zero except the
    forget gate's, which runs from 3 to 6 across the units (f ≈ 1 at the start).

    **Arguments:**

    - `input_size`: D.
    - `hidden_size`: N.
    - `num_heads`: H, which must divide N and D (default 1).
    - `key`: a JAX PRNG key.
    - `dtype`: the parameters' float dtype (JAX's default float if None).

    **Example:**

    ```python
    cell = paratime.cells.SLSTM(8, 16, num_heads=4, key=jax.random.key(0))
    sol = paratime.unroll(cell, cell.init_state(), jnp.ones((1000, 8)))
    hs = cell.output(sol.states)  # (1000, 16)
    ```
    """

    weight_ih: Float[Array, "4 N D"]
    weight_hh: Float[Array, "4 H d d"]
    bias: Float[Array, "4 N"]
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
        d = N // H
        self.num_heads = H
        self.weight_ih = glorot_uniform(k1, (4, N, D), D, N, dtype)
        self.weight_hh = small_normal(k2, (4, H, d, d), d, dtype)
        bias = jnp.zeros((4, N), dtype)
        self.bias = bias.at[2].set(jnp.linspace(3.0, 6.0, N, dtype=dtype))

    def expected_shapes(self) -> tuple[Any, tuple[int, ...] | None]:
        """`(state shape, one input step's shape)`, for error messages."""
        return (self.weight_ih.shape[1], 3), (self.weight_ih.shape[2],)

    @property
    def jacobian_structure(self) -> AbstractStructure:
        return BlockDiagonal(3 * (self.bias.shape[1] // self.num_heads))

    def output(self, state: Float[Array, "*T N 3"]) -> Float[Array, "*T N"]:
        """The outputs h of a state (N, 3) or of a trajectory of states (T, N, 3)."""
        return state[..., 2]

    def _pre(self, x):
        x = x.astype(self.weight_ih.dtype)
        return jnp.einsum("gnd,...d->...gn", self.weight_ih, x) + self.bias

    def _step(self, state, pre):
        r, ell, h = state[:, 0], state[:, 1], state[:, 2]
        H, d = self.weight_hh.shape[1:3]
        u = pre + jnp.einsum("ghij,hj->ghi", self.weight_hh, h.reshape(H, d)).reshape(4, -1)
        z, o = jnp.tanh(u[0]), jnn.sigmoid(u[3])
        log_f, log_i = jnn.log_sigmoid(u[2]), u[1]
        w = jnn.sigmoid(log_f + ell - log_i)
        ell_next = jnp.logaddexp(log_f + ell, log_i)
        r_next = w * r + (1 - w) * z
        value = jnp.stack([r_next, ell_next, o * r_next], axis=-1)
        return value, (r, u, z, o, w, r_next)

    def __call__(self, state: Float[Array, "N 3"], x: Float[Array, " D"]) -> Float[Array, "N 3"]:
        return self._step(state, self._pre(x))[0]

    def trajectory(self, h0: Float[Array, "N 3"], xs: Float[Array, "T D"]) -> Float[Array, "T N 3"]:
        """The states by a `lax.scan` whose input projections are computed for all steps at
        once (the same values as `__call__`)."""

        def step(state, p):
            state = self._step(state, p)[0]
            return state, state

        return lax.scan(step, h0, self._pre(xs))[1]

    def value_and_jacobian(
        self, state: Float[Array, "N 3"], x: Float[Array, " D"]
    ) -> tuple[Float[Array, "N 3"], Float[Array, "H 3d 3d"]]:
        """The next state and the exact Jacobian in `BlockDiagonal(3d)` layout (H, 3d, 3d)."""
        value, (r, u, z, o, w, r1) = self._step(state, self._pre(x))
        gf = jnn.sigmoid(-u[2])  # d log σ(u_f) / d u_f
        dw = w * (1 - w)
        zero = jnp.zeros_like(r)
        # Sensitivities to the gate pre-activations (u_z, u_i, u_f, u_o) ...
        d_r = jnp.stack([(1 - w) * (1 - z**2), -(r - z) * dw, (r - z) * dw * gf, zero])
        d_ell = jnp.stack([zero, 1 - w, w * gf, zero])
        d_h = (o * d_r).at[3].add(r1 * o * (1 - o))
        # ... and to the unit's own (r, ℓ).
        own_r = jnp.stack([w, (r - z) * dw])
        own_ell = jnp.stack([zero, w])
        own_h = o * own_r
        H, d = self.weight_hh.shape[1:3]
        coef = jnp.stack([d_r, d_ell, d_h], axis=1).reshape(4, 3, H, d)  # (gate, out, H, d)
        through_h = jnp.einsum("gohp,ghpq->hpoq", coef, self.weight_hh)  # (H, d, 3, d)
        own = jnp.stack([own_r, own_ell, own_h]).reshape(3, 2, H, d)  # (out, in, H, d)
        direct = jnp.einsum("oihp,pq->hpoqi", own, jnp.eye(d, dtype=r.dtype))  # (H, d, 3, d, 2)
        # (H, d, 3, d, 3): rows (p, output), columns (q, input), as the ravelled state orders them.
        block = jnp.concatenate([direct, through_h[..., None]], axis=-1)
        return value, block.reshape(H, 3 * d, 3 * d)
