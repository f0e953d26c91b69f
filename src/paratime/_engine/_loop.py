"""The one iteration loop of every iterative solver (init / step / terminate).

A solver supplies two things: its *init*, the first iterate together with its residual and
convergence test, and its *step*, `step(operands, carry, active) -> (carry, residual,
converged)`, one iteration from the previous carry. The residual (a non-negative scalar) and
the convergence test (a bool) are the solver's own. The loop owns everything else: the most
iterations, the termination test (converged, non-finite residual, or the residual grown past
`divergence` times its starting value), lockstep batching under `jax.vmap`, the statistics
and the result code. Tolerance defaults come from `_checks.tolerances`.
"""

import math
from collections.abc import Callable
from typing import Any

import jax.lax as lax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int, Real

from ._batching import lockstep_while_loop
from ._solution import RESULTS

# step(operands, carry, active) -> (carry, residual, converged)
Step = Callable[[Any, Any, Any], tuple[Any, Array, Array]]


def classify(converged, residual, diverged) -> RESULTS:
    """The result code of a finished iteration."""
    return RESULTS.where(
        converged,
        RESULTS.successful,
        RESULTS.where(
            ~jnp.isfinite(residual),
            RESULTS.nonfinite,
            RESULTS.where(diverged, RESULTS.diverged, RESULTS.max_iters_reached),
        ),
    )


def iterate(
    step: Step,
    init: tuple[Any, Real[Array, ""], Bool[Array, ""]],
    operands: Any,
    *,
    max_iters: int,
    divergence: float = math.inf,
    lockstep: bool = True,
) -> tuple[Any, RESULTS, dict[str, Int[Array, ""] | Real[Array, ""]]]:
    """Iterate `step` from `init` until it terminates; return the last carry, the result
    code and the stats (`num_steps`, `residual`).

    **Arguments:**

    - `step`: `step(operands, carry, active) -> (carry, residual, converged)`. Under `vmap`
        with `lockstep=True`, `active` is False for a sequence that has already stopped: the
        step must then return its carry unchanged (cheaply, e.g. by a masked update); its
        residual and convergence test are kept by the loop. Outside `vmap` (or with
        `lockstep=False`) `active` is True.
    - `init`: `(carry, residual, converged)` of the first iterate (the solver's init).
    - `operands`: every array `step` reads that is not in the carry (not a closure), so
        that a `vmap` around the loop sees what is batched.
    - `max_iters`: the most steps (0: none; `init` is the answer).
    - `divergence`: stop with `RESULTS.diverged` when the residual exceeds this factor times
        max(its initial value, 1); `inf` never does.
    - `lockstep`: batched, iterate in lockstep (`lockstep_while_loop`) rather than as a
        vmapped `lax.while_loop` (a whole-carry select per step).

    The loop stops when `converged`, when the residual is not finite (NaN or Inf), when it
    passed the divergence bound, or after `max_iters` steps.
    """
    carry, residual, converged = init
    residual = jnp.asarray(residual)
    # (No bound at all, not even a compare, where `divergence` is a Python inf.)
    bounded = not (isinstance(divergence, (int, float)) and math.isinf(divergence))
    bound = divergence * jnp.maximum(residual, 1) if bounded else None
    state = (jnp.array(0), carry, residual, jnp.asarray(converged), bound)

    def cond(ops, state):
        k, _, residual, converged, bound = state
        go = (k < max_iters) & ~converged & jnp.isfinite(residual)
        return go & (residual <= bound) if bounded else go

    def body(ops, state, active):
        k, carry, residual, converged, bound = state
        carry, new_residual, new_converged = step(ops, carry, active)
        residual = jnp.where(active, new_residual, residual)
        converged = jnp.where(active, new_converged, converged)
        return k + active, carry, residual, converged, bound

    if lockstep:
        state = lockstep_while_loop(cond, body, state, operands)
    else:
        state = lax.while_loop(
            lambda s: cond(operands, s), lambda s: body(operands, s, jnp.array(True)), state
        )
    k, carry, residual, converged, bound = state
    # (`bound` is an array whenever `bounded`)
    result = classify(converged, residual, (residual > bound) if bounded else False)  # pyright: ignore[reportOperatorIssue]
    return carry, result, {"num_steps": k, "residual": residual}
