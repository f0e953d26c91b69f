"""The comparison model: a linear non-autonomous state-space model (LRU) with an MLP readout.

h_t = λ ⊙ h_{t-1} + γ ⊙ (B x_{t-1})        (a `paratime.cells.LRU`, solved by `unroll`)
x̂_t = x_{t-1} + MLP([Re h_t, Im h_t, x_{t-1}])

It is trained by one-step-ahead prediction with the true x_{t-1} as input (the linear
recurrence is solved exactly in parallel, no Newton iterations needed) and generates by feeding
its own predictions back.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .. import AbstractSolver, Auto, unroll
from .._engine._fallback import Fallback
from ..cells import LRU


class LinearSSM(eqx.Module):
    """An LRU-style linear state-space model with a nonlinear (MLP) readout.

    **Arguments:**

    - `data_size`: d, the observation dimension.
    - `state_size`: N, the number of complex LRU modes.
    - `hidden_size`: the width of the one-hidden-layer ReLU readout.
    - `key`: a PRNG key.
    """

    lru: LRU
    readout: eqx.nn.MLP

    def __init__(self, data_size: int, state_size: int, hidden_size: int, *, key: PRNGKeyArray):
        for name, v in (("data_size", data_size), ("state_size", state_size)):
            if v < 1:
                raise ValueError(f"`{name}` must be a positive integer; got {v}.")
        k1, k2 = jax.random.split(key)
        self.lru = LRU(data_size, state_size, key=k1)
        self.readout = eqx.nn.MLP(
            2 * state_size + data_size, data_size, hidden_size, 1, activation=jax.nn.relu, key=k2
        )

    def _h0(self, dtype) -> Array:
        cdtype = jnp.result_type(dtype, jnp.complex64)
        return jnp.zeros(self.lru.nu_log.shape, cdtype)

    def _predict_next(self, h: Array, x_prev: Array) -> Array:
        features = jnp.concatenate([jnp.real(h), jnp.imag(h), x_prev]).astype(x_prev.dtype)
        return x_prev + self.readout(features)

    def gtf_loss(
        self,
        x: Float[Array, "T d"],
        alpha=None,
        solver: AbstractSolver | None = None,
        *,
        kappa: object = True,
        fallback: Fallback = "sequential",
        interval: int = 1,
        unforced: tuple[int, ...] = (),
        partial: bool = True,
    ) -> tuple[Float[Array, ""], dict[str, Array]]:
        """One-step-ahead MSE on a subsequence, with the signature of `DSRModel.gtf_loss`
        (`alpha`, `kappa`, `interval`, `unforced` and `partial` are unused: the model is not
        forced, κ is 0; `solver` defaults to Auto; `fallback` is the failure policy of its
        solve)."""
        solver = Auto() if solver is None else solver
        sol = unroll(
            self.lru, self._h0(x.dtype), x[:-1], solver=solver, throw=False, fallback=fallback
        )
        pred = jax.vmap(self._predict_next)(sol.states, x[:-1])
        loss = jnp.mean((pred - x[1:]) ** 2)
        zero = jnp.zeros((), x.dtype)
        return loss, {"newton_steps": sol.stats["num_steps"], "kappa": zero, "failed": zero}

    def infer_state(self, x: Float[Array, "T d"]) -> tuple[Array, Array]:
        """The state after reading `x`: (h_{T-1} driven by x_0..x_{T-2}, x_{T-1})."""
        sol = unroll(self.lru, self._h0(x.dtype), x[:-1], solver=Auto(), throw=False)
        return sol.states[-1], x[-1]

    def generate(self, state: tuple[Array, Array], steps: int) -> Float[Array, "steps d"]:
        """Free-running generation from `infer_state`, feeding predictions back as inputs."""

        def step(carry, _):
            h, x_prev = carry
            h = self.lru(h, x_prev)
            x = self._predict_next(h, x_prev)
            return (h, x), x

        # The state holds the last observation; first advance h with it, then predict.
        _, xs = jax.lax.scan(step, state, None, length=steps)
        return xs

    def predict(self, context: Float[Array, "W d"], steps: int) -> Float[Array, "steps d"]:
        """Forecast `steps` observations after a context window (used for PE(n))."""
        return self.generate(self.infer_state(context), steps)
