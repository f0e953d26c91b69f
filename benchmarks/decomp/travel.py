"""How far information travels per update in multiple shooting."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from paratime.decomp import RNN, ShootingProblem


def information_travel(
    problem: ShootingProblem, model: RNN, steps: int, *, sequence: int = 0
) -> Float[Array, "steps K"]:
    """The sensitivity of every embedding to the first input, after each optimiser step.

    Entry `[n, k]` is `‖∂ s_k / ∂ x_0‖` (Frobenius norm over the state and input
    dimensions, for batch element `sequence`) after `n + 1` steps of `problem`, measured
    exactly by forward-mode differentiation through the whole training run. With θ frozen
    (`Shooting(train_params=False)`), an embedding can only learn about x_0 through the
    continuity penalties, so information moves at most one segment per embedding update:
    `[n, k]` is zero for `k > (n + 1) // freeze_every`. With θ trained, θ also carries
    (batch-averaged) information to every segment after the first step.

    **Arguments:**

    - `problem`: a `ShootingProblem`.
    - `model`: the initial model.
    - `steps`: how many optimiser steps to follow.
    - `sequence`: which batch element's first input to perturb.

    **Returns:**

    An array (steps, K).
    """
    state0 = problem.init(model)
    x0 = problem.xs[sequence, 0]

    def run(x0):
        xs = problem.xs.at[sequence, 0].set(x0)
        prob = eqx.tree_at(
            lambda p: (p.xs, p.xw), problem, (xs, problem.config.windows.split(xs, axis=1))
        )

        def body(state, _):
            state, _ = prob.update(state)
            return state, jax.tree.map(lambda s: s[:, sequence], state.starts)

        return jax.lax.scan(body, state0, None, length=steps)[1]

    def column(i):
        tangent = jax.jvp(run, (x0,), (jnp.zeros_like(x0).at[i].set(1.0),))[1]
        leaves = [t.reshape(t.shape[:2] + (-1,)) for t in jax.tree.leaves(tangent)]
        return jnp.concatenate(leaves, axis=-1)  # (steps, K, state size)

    # the norm over input columns and state entries, scaled first so that tiny sensitivities
    # (a forgetful cell shrinks them by orders of magnitude per segment) do not underflow
    tangents = jax.jit(jax.vmap(column))(jnp.arange(x0.shape[0]))  # (D, steps, K, size)
    scale = jnp.max(jnp.abs(tangents), axis=(0, 3))
    safe = jnp.where(scale > 0, scale, 1.0)
    scaled = tangents / safe[None, :, :, None]
    return scale * jnp.sqrt(jnp.sum(scaled**2, axis=(0, 3)))
