"""A latent PLRNN-family model with an observation model, trained with GTF via `unroll`."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from .. import RESULTS, AbstractSolver, unroll
from .._engine._fallback import Fallback
from ..cells import AbstractCell
from ._gtf import GTFCell, SparseGTFCell, check_unforced, forcing_mask, jacobian_kappa
from ._observation import AbstractObservation


class DSRModel(eqx.Module):
    """A dynamical-systems-reconstruction model: latent map F and observation model O.

    **Arguments:**

    - `cell`: the latent map F (`PLRNN`, `ShallowPLRNN`, `ALRNN` or any `AbstractCell`
        whose input is ignored).
    - `observation`: `IdentityObservation` or `AffineObservation`.

    **Example:**

    ```python
    key = jax.random.key(0)
    model = paratime.dsr.DSRModel(
        paratime.dsr.ShallowPLRNN(3, 32, key=key), paratime.dsr.IdentityObservation(3, 3)
    )
    loss, aux = model.gtf_loss(x, alpha=0.1, solver=paratime.DEER())
    ```
    """

    cell: AbstractCell
    observation: AbstractObservation

    def forced_states(
        self,
        x: Float[Array, "T d"],
        alpha: Float[Array, ""] | float,
        solver: AbstractSolver,
        *,
        fallback: Fallback = "sequential",
        interval: int = 1,
        unforced: tuple[int, ...] = (),
        partial: bool = True,
    ) -> tuple[Float[Array, "T M"], dict]:
        """The GTF-forced latent trajectory z̃_0..z̃_{T-1} driven by the observations `x`.

        z̃_0 = `observation.initial_state(x_0)`; the later states solve the forced recurrence
        with `paratime.unroll`, whose failure policy is `fallback` (by default a failed
        parallel solve is finished exactly by the sequential scan; `None` keeps the failed
        states). With `interval` τ > 1 the forcing acts only at the steps t = τ, 2τ, ... (the
        others run freely; `SparseGTFCell`): α = 1 with τ > 1 is sparse teacher forcing. The
        observed columns in `unforced` do not force the latent state at all (α = 0 on them: a
        slow variable whose units should run freely between the data's values).
        `partial=False` also forces the latent directions the data do not determine, towards
        0 (the GTF code's `partial_forcing = false`; `AbstractObservation.projector`).

        **Returns:**

        `(states, stats)`, where `stats` holds the solver's `num_steps` and `failed` (the
        parallel solve failed, whether or not its fallback then finished it).
        """
        target = self.observation.lift(x)
        a = jnp.asarray(alpha, x.dtype)
        columns = check_unforced(unforced, x.shape[-1])
        projector = self.observation.projector(columns, partial)
        if interval == 1:
            cell = GTFCell(self.cell, a, projector)
            xs = target[1:]
        else:
            cell = SparseGTFCell(self.cell, a, projector)
            mask = forcing_mask(target.shape[0] - 1, interval, x.dtype)
            xs = jnp.concatenate([target[1:], mask[:, None]], axis=1)
        start = self.observation.initial_state(x[0])
        sol = unroll(cell, start, xs, solver=solver, throw=False, fallback=fallback)
        states = jnp.concatenate([start[None], sol.states], axis=0)
        failed = sol.stats.get("fallback_used", sol.result != RESULTS.successful)
        return states, {"num_steps": sol.stats["num_steps"], "failed": failed}

    def gtf_loss(
        self,
        x: Float[Array, "T d"],
        alpha: Float[Array, ""] | float,
        solver: AbstractSolver,
        *,
        kappa: bool | Bool[Array, ""] = True,
        fallback: Fallback = "sequential",
        interval: int = 1,
        unforced: tuple[int, ...] = (),
        partial: bool = True,
    ) -> tuple[Float[Array, ""], dict[str, Array]]:
        """The GTF loss on one subsequence: MSE of O(F(z̃_{t-1})) against x_t, t = 1..T−1.

        **Arguments:**

        - `x`: observations, shape (T, d).
        - `alpha`: the forcing strength α (not differentiated).
        - `solver`: how to solve the forced recurrence (`DEER`, `QuasiDEER`, `Sequential`,
            `Auto`).
        - `kappa`: whether to compute κ (`jacobian_kappa` along the forced states); a traced
            boolean computes it only where it is true (under `jit`, a `lax.cond`), and the
            entry is NaN elsewhere. Training computes it only on the steps that update α.
        - `fallback`: the failure policy of the solve (see `forced_states`).
        - `interval`: force every `interval`-th step only (1: every step; see
            `forced_states`).
        - `unforced`: observed columns that do not force the latent state (see
            `forced_states`); the loss still scores their predictions.
        - `partial`: `False` forces every latent direction, those the data do not
            determine towards 0 (see `forced_states`).

        **Returns:**

        `(loss, aux)` with aux `newton_steps`, `kappa` (the aGTF Jacobian-norm estimate) and
        `failed` (1 where the solve did not converge).
        """
        alpha = jax.lax.stop_gradient(jnp.asarray(alpha, x.dtype))
        states, stats = self.forced_states(
            x[:-1],
            alpha,
            solver,
            fallback=fallback,
            interval=interval,
            unforced=unforced,
            partial=partial,
        )
        pred = self.observation(jax.vmap(lambda z: self.cell(z, None))(states))
        loss = jnp.mean((pred - x[1:]) ** 2)
        nan = jnp.full((), jnp.nan, x.dtype)
        if isinstance(kappa, bool):
            k = jacobian_kappa(self.cell, states) if kappa else nan
        else:
            k = jax.lax.cond(kappa, lambda: jacobian_kappa(self.cell, states), lambda: nan)
        aux = {
            "newton_steps": stats["num_steps"],
            "kappa": k,
            "failed": stats["failed"].astype(x.dtype),
        }
        return loss, aux

    def infer_state(self, x: Float[Array, "T d"]) -> Float[Array, " M"]:
        """The latent state after reading `x`: fully forced (α = 1) on the observed directions.

        It starts from `observation.initial_state(x[0])`; the unobserved latent directions
        then evolve freely, so a burn-in of a few dozen steps sets them.
        """
        target = self.observation.lift(x)
        cell = GTFCell(self.cell, jnp.asarray(1.0, x.dtype), self.observation.projector())

        def step(z, t):
            z = cell(z, t)
            return z, None

        z, _ = jax.lax.scan(step, self.observation.initial_state(x[0]), target[1:])
        return z

    def generate(self, z0: Float[Array, " M"], steps: int) -> Float[Array, "steps d"]:
        """Run the model freely for `steps` steps from `z0`; returns the observations."""

        def step(z, _):
            z = self.cell(z, None)
            return z, self.observation(z)

        _, xs = jax.lax.scan(step, z0, None, length=steps)
        return xs

    def predict(self, context: Float[Array, "W d"], steps: int) -> Float[Array, "steps d"]:
        """Forecast `steps` observations after a context window (used for PE(n))."""
        return self.generate(self.infer_state(context), steps)

    def step_fn(self):
        """The latent map z -> F(z), e.g. for the Lyapunov exponent."""
        return lambda z: self.cell(z, None)
