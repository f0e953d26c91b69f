"""Multiple shooting with trainable states ("state embeddings").

The sequence is cut into K disjoint segments. Segment k ≥ 1 starts from a trainable state
s_k; a continuity penalty `μ/2 ‖h^k_end − s_{k+1}‖²` ties the end of each segment to the
start of the next. Optionally the embeddings are frozen for `freeze_every` optimiser steps
while their gradients accumulate, and then updated once (like a DQN target network).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, PyTree

import paratime

from ._local import data_term, trajectory, tree_sq, tree_sub
from ._model import RNN, WindowedProblem, sequence_loss
from ._parallel import Neighbours, map_windows
from ._windows import Windows


class Shooting(eqx.Module):
    """The settings of multiple shooting.

    **Arguments:**

    - `num_windows`: K segments; `num_windows = T` puts an embedding at every transition.
    - `mu`: the continuity weight μ (normalised by batch × T, like the data loss).
    - `freeze_every`: hold the embeddings fixed for this many optimiser steps, accumulating
        their gradients, then apply the mean gradient once. `1` updates them every step.
    - `train_params`: whether θ is trained (switch off to study the embeddings alone).
    - `solver`: the `paratime.unroll` solver used inside each segment.
    """

    num_windows: int = eqx.field(static=True)
    mu: Array = eqx.field(default=1.0, converter=jnp.asarray)
    freeze_every: int = eqx.field(static=True, default=1)
    train_params: bool = eqx.field(static=True, default=True)
    solver: Any = paratime.Sequential()

    def __check_init__(self):
        if self.mu < 0:
            raise ValueError(f"`mu` must be non-negative; got {self.mu}.")
        if self.freeze_every < 1:
            raise ValueError(f"`freeze_every` must be at least 1; got {self.freeze_every}.")

    @property
    def windows(self) -> Windows:
        return Windows(self.num_windows, 0)


class ShootingState(eqx.Module):
    params: PyTree[Array]
    starts: PyTree[Array]  # (K, B, ...) embeddings; entry 0 is unused (window 0 starts at h0)
    opt_params: Any
    opt_starts: Any


class ShootingProblem(WindowedProblem):
    """A model, a data set cut into K segments, and the optimiser step of multiple shooting.

    **Arguments:**

    - `model`: the `RNN` to train.
    - `xs`, `ys`: inputs and targets, (batch, T, features).
    - `config`: a `Shooting`.
    - `optimizer`: an optax optimiser, used for θ and (wrapped in `optax.MultiSteps` when
        `freeze_every > 1`) for the embeddings.
    - `mesh`: `None` (segments vmapped) or `paratime.decomp.time_mesh(...)` (segments
        sharded; the continuity target comes from the next device by `ppermute`).
    """

    config: Shooting

    @property
    def _starts_optimizer(self) -> optax.GradientTransformation:
        if self.config.freeze_every == 1:
            return self.optimizer
        every = self.config.freeze_every
        return optax.MultiSteps(self.optimizer, every_k_schedule=every).gradient_transformation()

    def _model(self, params) -> RNN:
        return eqx.combine(params, self.static)

    def _local(self, nb: Neighbours, params, w):
        cfg, (batch, length) = self.config, self.xs.shape[:2]
        model = self._model(params)
        states = jax.vmap(lambda s, x, i: trajectory(model, s, x, i, cfg.solver))(
            w["start"], w["xw"], w["index"]
        )
        target = nb.from_next(w["start"])  # s_{k+1}, from the next window (or device)

        def one(states, yw, index, target):
            data = data_term(model, states, yw, index, cfg.windows, length)
            end = jax.tree.map(lambda x: x[:, -1], states)
            gap = jnp.where(index < cfg.num_windows - 1, tree_sq(tree_sub(end, target)), 0.0)
            return data, 0.5 * cfg.mu * gap / (batch * length), gap

        data, penalty, gap = jax.vmap(one)(states, w["yw"], w["index"], target)
        return {"data": data, "penalty": penalty, "gap": gap}

    def objective(self, params, starts):
        """Data loss plus continuity penalty, summed over segments; and the per-segment parts."""
        w = {"start": starts, "xw": self.xw, "yw": self.yw}
        w["index"] = jnp.arange(self.config.num_windows)
        parts = map_windows(self._local, mesh=self.mesh)(params, w)
        return jnp.sum(parts["data"]) + jnp.sum(parts["penalty"]), parts

    def full_loss(self, params) -> Array:
        """The ordinary full-sequence loss of θ (sequential unroll from h0)."""
        model = self._model(params)
        return sequence_loss(model, self.xs, self.ys, solver=paratime.Sequential())

    def init(self, model: RNN) -> ShootingState:
        """Embeddings start at zero; optimiser states for θ and for the embeddings."""
        params = eqx.partition(model, eqx.is_array)[0]
        batch, k = self.xs.shape[0], self.config.num_windows
        starts = jax.tree.map(lambda h: jnp.zeros((k, batch) + h.shape, h.dtype), model.h0)
        return ShootingState(
            params, starts, self.optimizer.init(params), self._starts_optimizer.init(starts)
        )

    def update(self, state: ShootingState) -> tuple[ShootingState, dict[str, Array]]:
        """One optimiser step (not jitted; `step` is the jitted version)."""
        grad = jax.value_and_grad(self.objective, argnums=(0, 1), has_aux=True)
        (total, parts), (g_params, g_starts) = grad(state.params, state.starts)
        params, opt_params = state.params, state.opt_params
        if self.config.train_params:
            updates, opt_params = self.optimizer.update(g_params, opt_params, params)
            params = optax.apply_updates(params, updates)
        updates, opt_starts = self._starts_optimizer.update(
            g_starts, state.opt_starts, state.starts
        )
        starts = optax.apply_updates(state.starts, updates)
        cfg, batch = self.config, self.xs.shape[0]
        size = sum(x[0, 0].size for x in jax.tree.leaves(state.starts))
        pairs = max(cfg.num_windows - 1, 1) * batch * size
        metrics = {
            "objective": total,
            "data": jnp.sum(parts["data"]),
            "penalty": jnp.sum(parts["penalty"]),
            "gap": jnp.sqrt(jnp.sum(parts["gap"]) / pairs),
        }
        return ShootingState(params, starts, opt_params, opt_starts), metrics

    @eqx.filter_jit
    def step(self, state: ShootingState) -> tuple[ShootingState, dict[str, Array]]:
        """`update`, jitted."""
        return self.update(state)

    def model(self, state: ShootingState) -> RNN:
        return self._model(state.params)
