"""Model decomposition in time (D'Amore 2025): overlapping windows, local problems solved in
parallel, an overlap operator that makes neighbours agree, nearest-neighbour exchange only.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, PyTree

import paratime

from ._local import data_term, time_slice, trajectory, tree_sq, tree_sub
from ._model import RNN, WindowedProblem, sequence_loss
from ._parallel import Neighbours, map_windows
from ._windows import Windows


class Decomposition(eqx.Module):
    """The settings of the decomposed problem.

    Window k's local objective is its share of the data loss plus the overlap operator
    `μ/2 ‖h^k(t) − h^{k±1}(t)‖²` over the steps it shares with each neighbour, where the
    neighbour's states are those received at the last exchange (they are constants for the
    local solve). Both terms are normalised by batch × T, like the full-sequence loss.

    **Arguments:**

    - `num_windows`: K.
    - `overlap`: the number of steps adjacent windows share (≥ 1).
    - `mu`: the weight μ of the overlap operator.
    - `variant`: `"shared"`: one θ for all windows (gradients summed over windows), each
        window k ≥ 1 with a trainable initial state; `"local"`: each window has its own copy
        θ_k too, tied by the consensus penalty `ρ/2 ‖θ_k − θ̄_k‖²`, θ̄_k the mean of θ over
        window k and its neighbours at the last exchange.
    - `rho`: the consensus weight ρ (only for `"local"`).
    - `inner_steps`: optimiser steps on the local problems between two exchanges.
    - `init`: initial window states: `"zeros"`, or `"unroll"` (one sequential pass of the
        initial model).
    - `solver`: the `paratime.unroll` solver used inside each window.
    """

    num_windows: int = eqx.field(static=True)
    overlap: int = eqx.field(static=True, default=1)
    mu: Array = eqx.field(default=1.0, converter=jnp.asarray)
    variant: str = eqx.field(static=True, default="shared")  # "shared" or "local"
    rho: Array = eqx.field(default=1.0, converter=jnp.asarray)
    inner_steps: int = eqx.field(static=True, default=1)
    init: str = eqx.field(static=True, default="zeros")  # "zeros" or "unroll"
    solver: Any = paratime.Sequential()

    def __check_init__(self):
        if self.num_windows < 1:
            raise ValueError(f"`num_windows` must be at least 1; got {self.num_windows}.")
        if self.overlap < 1:
            raise ValueError(f"`overlap` must be at least 1; got {self.overlap}.")
        if self.mu < 0 or self.rho < 0:
            raise ValueError(f"`mu` and `rho` must be non-negative; got {self.mu}, {self.rho}.")
        if self.variant not in ("shared", "local"):
            raise ValueError(f"`variant` must be 'shared' or 'local'; got {self.variant!r}.")
        if self.inner_steps < 1:
            raise ValueError(f"`inner_steps` must be at least 1; got {self.inner_steps}.")
        if self.init not in ("zeros", "unroll"):
            raise ValueError(f"`init` must be 'zeros' or 'unroll'; got {self.init!r}.")

    @property
    def windows(self) -> Windows:
        return Windows(self.num_windows, self.overlap)


class DecompositionState(eqx.Module):
    """What one outer iteration carries (and `paratime.train` checkpoints)."""

    params: PyTree[Array]  # the model's arrays; stacked over K for the "local" variant
    starts: PyTree[Array]  # (K, B, ...) initial state of each window (window 0 uses h0)
    opt_state: Any
    left: PyTree[Array]  # (K, B, O, ...) window k − 1's states on the shared steps
    right: PyTree[Array]  # (K, B, O, ...) window k + 1's states on the shared steps
    anchor: PyTree[Array] | None  # θ̄_k, the neighbour mean of θ ("local" variant)


def _stack(tree: PyTree[Array], k: int) -> PyTree[Array]:
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (k,) + x.shape), tree)


class DecomposedProblem(WindowedProblem):
    """A model, a data set cut into windows, and the outer iteration that trains it.

    **Arguments:**

    - `model`: the `RNN` to train (its arrays are the parameters).
    - `xs`, `ys`: inputs and targets, (batch, T, features).
    - `config`: a `Decomposition`.
    - `optimizer`: an optax optimiser, applied to θ and the window states together.
    - `mesh`: `None` (windows vmapped on one device) or `paratime.decomp.time_mesh(...)`
        (windows sharded over its devices; K must be a multiple of the device count).
    """

    config: Decomposition

    # --- the per-window computations (run vmapped or sharded by `map_windows`) ---

    def _model(self, params) -> RNN:
        return eqx.combine(params, self.static)

    def _trajectories(self, shared, w):
        def one(params, start, xw, index):
            return trajectory(self._model(params), start, xw, index, self.config.solver)

        if self.config.variant == "shared":
            return jax.vmap(lambda *a: one(shared, *a))(w["start"], w["xw"], w["index"])
        return jax.vmap(one)(w["params"], w["start"], w["xw"], w["index"])

    def _local_objectives(self, nb: Neighbours, shared, w):
        cfg, length = self.config, self.xs.shape[1]
        stride = cfg.windows.stride(length)
        states = self._trajectories(shared, w)
        norm = self.xs.shape[0] * length

        def one(params, states, yw, index, left, right, anchor):
            model = self._model(shared if params is None else params)
            data = data_term(model, states, yw, index, cfg.windows, length)
            gap_l = tree_sq(tree_sub(time_slice(states, 0, cfg.overlap), left))
            gap_r = tree_sq(tree_sub(time_slice(states, stride, None), right))
            gap_l = jnp.where(index > 0, gap_l, 0.0)
            gap_r = jnp.where(index < cfg.num_windows - 1, gap_r, 0.0)
            penalty = 0.5 * cfg.mu * (gap_l + gap_r) / norm
            consensus = 0.0 if anchor is None else 0.5 * cfg.rho * tree_sq(tree_sub(params, anchor))
            return data, penalty, jnp.asarray(consensus, data.dtype)

        params = w.get("params")
        anchor = w.get("anchor")
        axes = (None if params is None else 0, 0, 0, 0, 0, 0, None if anchor is None else 0)
        data, penalty, consensus = jax.vmap(one, in_axes=axes)(
            params, states, w["yw"], w["index"], w["left"], w["right"], anchor
        )
        return {"data": data, "penalty": penalty, "consensus": consensus}

    def _exchange(self, nb: Neighbours, shared, w):
        cfg = self.config
        stride = cfg.windows.stride(self.xs.shape[1])
        states = self._trajectories(shared, w)
        head = jax.tree.map(lambda x: x[:, :, : cfg.overlap], states)
        tail = jax.tree.map(lambda x: x[:, :, stride:], states)
        left, right = nb.from_prev(tail), nb.from_next(head)
        last = w["index"] == cfg.num_windows - 1
        mismatch = jax.vmap(lambda a, b, e: jnp.where(e, 0.0, tree_sq(tree_sub(a, b))))(
            tail, right, last
        )
        out = {"left": left, "right": right, "mismatch": mismatch}
        if cfg.variant == "local":
            first = w["index"] == 0

            def mean3(p, prev, nxt):
                has_prev = (~first).reshape((-1,) + (1,) * (p.ndim - 1))
                has_next = (~last).reshape((-1,) + (1,) * (p.ndim - 1))
                total = p + jnp.where(has_prev, prev, 0) + jnp.where(has_next, nxt, 0)
                return total / (1 + has_prev.astype(p.dtype) + has_next.astype(p.dtype))

            params = w["params"]
            out["anchor"] = jax.tree.map(mean3, params, nb.from_prev(params), nb.from_next(params))
        return out

    # --- global glue (ordinary jitted code on global arrays) ---

    def _split(self, params, starts, state=None):
        index = jnp.arange(self.config.num_windows)
        w = {"start": starts, "xw": self.xw, "yw": self.yw, "index": index}
        if state is not None:
            w["left"], w["right"] = state.left, state.right
            if state.anchor is not None:
                w["anchor"] = state.anchor
        if self.config.variant == "local":
            w["params"] = params
            return {}, w
        return params, w

    def objective(self, params, starts, state: DecompositionState):
        """The sum of the window objectives, and its parts per window."""
        shared, w = self._split(params, starts, state)
        parts = map_windows(self._local_objectives, mesh=self.mesh)(shared, w)
        total = sum(jnp.sum(v) for v in parts.values())
        return total, parts

    def exchange(self, params, starts) -> dict[str, Any]:
        """Neighbour exchange: each window receives its neighbours' overlap states (and, for
        the "local" variant, their parameters, to form θ̄_k)."""
        shared, w = self._split(params, starts)
        return map_windows(self._exchange, mesh=self.mesh)(shared, w)

    def consensus_params(self, params) -> PyTree[Array]:
        """θ for evaluation: θ itself, or the mean of the θ_k ("local" variant)."""
        if self.config.variant == "local":
            return jax.tree.map(lambda x: jnp.mean(x, axis=0), params)
        return params

    def full_loss(self, params) -> Array:
        """The ordinary full-sequence loss of the current θ (sequential unroll from h0)."""
        model = self._model(self.consensus_params(params))
        return sequence_loss(model, self.xs, self.ys, solver=paratime.Sequential())

    def init(self, model: RNN) -> DecompositionState:
        """The initial state: θ (copied per window for "local"), window states, first exchange."""
        cfg, (batch, length) = self.config, self.xs.shape[:2]
        params = eqx.partition(model, eqx.is_array)[0]
        if cfg.variant == "local":
            params = _stack(params, cfg.num_windows)
        stride = cfg.windows.stride(length)
        if cfg.init == "unroll":
            h0 = model.initial_state()
            full = jax.vmap(lambda x: paratime.unroll(model.cell, h0, x).states)(self.xs)
            idx = jnp.maximum(jnp.arange(cfg.num_windows) * stride - 1, 0)
            starts = jax.tree.map(lambda s: jnp.swapaxes(s[:, idx], 0, 1), full)
        else:
            starts = jax.tree.map(
                lambda h: jnp.zeros((cfg.num_windows, batch) + h.shape, h.dtype), model.h0
            )
        opt_state = self.optimizer.init((params, starts))
        ex = self.exchange(params, starts)
        return DecompositionState(
            params, starts, opt_state, ex["left"], ex["right"], ex.get("anchor")
        )

    def update(self, state: DecompositionState) -> tuple[DecompositionState, dict]:
        """One outer iteration: `inner_steps` optimiser steps on all local problems at once
        (neighbour data held fixed), then one nearest-neighbour exchange."""
        grad = jax.value_and_grad(self.objective, argnums=(0, 1), has_aux=True)

        def inner(carry, _):
            params, starts, opt_state = carry
            (_, parts), grads = grad(params, starts, state)
            updates, opt_state = self.optimizer.update(grads, opt_state, (params, starts))
            # optax types the result as one generic `Params`; it has the tuple structure given
            params, starts = optax.apply_updates((params, starts), updates)  # pyright: ignore[reportGeneralTypeIssues]
            return (params, starts, opt_state), parts

        carry = (state.params, state.starts, state.opt_state)
        (params, starts, opt_state), parts = jax.lax.scan(
            inner, carry, None, length=self.config.inner_steps
        )
        ex = self.exchange(params, starts)
        new = DecompositionState(
            params, starts, opt_state, ex["left"], ex["right"], ex.get("anchor")
        )
        cfg, batch = self.config, self.xs.shape[0]
        size = sum(x[0, 0, 0].size for x in jax.tree.leaves(ex["right"]))
        pairs = max(cfg.num_windows - 1, 1) * batch * cfg.overlap * size
        metrics = {
            "objective": jnp.sum(parts["data"][-1]),
            "penalty": jnp.sum(parts["penalty"][-1]),
            "mismatch": jnp.sqrt(jnp.sum(ex["mismatch"]) / pairs),
        }
        if cfg.variant == "local":
            metrics["consensus"] = jnp.sum(parts["consensus"][-1])
        return new, metrics

    @eqx.filter_jit
    def step(self, state: DecompositionState) -> tuple[DecompositionState, dict]:
        """`update`, jitted."""
        return self.update(state)

    def model(self, state: DecompositionState) -> RNN:
        """The trained model (for "local": with the mean of the θ_k)."""
        return self._model(self.consensus_params(state.params))
