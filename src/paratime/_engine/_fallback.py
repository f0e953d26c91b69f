"""The failure policy: a failed parallel solve is finished exactly, for the failed sequences
only, and only when one failed.

`unroll(..., fallback=...)` and every layer that calls it take one of `FALLBACKS`:

- `"sequential"`: a failed solve is re-solved with the sequential scan (exact);
- `"elk"`: a failed solve is re-solved with damped Newton (`ELK`), and the sequential scan
  finishes what ELK cannot (ELK is parallel over time but may fail on the same cell);
- `None`: no fallback; the result code says what happened (and `throw=True` raises).

`"auto"` (the default of `unroll`) means `"sequential"` under `Auto()` and `None` for a
solver chosen explicitly.

What a fallback costs when nothing failed: nothing but one reduction. The re-solve sits in
the true branch of a `lax.cond` whose predicate is "some sequence of the batch failed"; under
`jax.vmap` that predicate is reduced over the batch first (`batch_any`), so the `lax.cond`
stays a conditional instead of becoming a `select` that computes both branches. On a CPU,
where `unroll` solves a batch one sequence after another, the condition is per sequence.
The Jacobians the Newton solve leaves for the adjoint are re-evaluated at the new states
inside the same branch, so the gradient after a fallback is exact and the gradient of a
solve that converged is unchanged.
"""

import dataclasses
from typing import Any, Literal

import jax
import jax.lax as lax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jaxtyping import Array, Bool

from ._solution import RESULTS, SolveResult

FALLBACKS = ("sequential", "elk")
# The values `fallback=` takes (`"auto"` only where a solver is still to be resolved).
Fallback = Literal["auto", "sequential", "elk"] | None


def check_fallback(fallback: Any, *, allow_auto: bool = True) -> None:
    """Raise `ValueError` naming `fallback` unless it is a valid failure policy."""
    allowed = (None, *FALLBACKS) + (("auto",) if allow_auto else ())
    if not (fallback is None or (isinstance(fallback, str) and fallback in allowed)):
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`fallback` must be one of {shown}; got {fallback!r}.")


def resolve_fallback(fallback: Fallback, solver: Any) -> Fallback:
    """`"auto"` → `"sequential"` for `Auto()`, None for an explicit solver; else unchanged."""
    from ._solver import Auto

    if fallback == "auto":
        return "sequential" if isinstance(solver, Auto) else None
    return fallback


def batch_any(pred: Bool[Array, ""]) -> Bool[Array, ""]:
    """`pred`, reduced with `any` over every `jax.vmap` batch axis: an unbatched scalar.

    A `lax.cond` on it stays a conditional under `vmap` (its branches are batched), where a
    `lax.cond` on the batched `pred` would become a `select` computing both branches."""

    @custom_vmap
    def reduce(pred):
        return pred

    @reduce.def_vmap
    def rule(axis_size, in_batched, pred):
        del axis_size
        out = reduce(jnp.any(pred) if in_batched[0] else pred)  # an enclosing vmap: again
        return out, False

    return reduce(lax.stop_gradient(pred))


def _exact(cell, h0: Array, xs: Any, fallback: str) -> Array:
    """The states by the fallback method (exact: the sequential scan has the last word)."""
    from ._solver import ELK
    from ._solver._sequential import scan_states

    def scan():
        return scan_states(cell, h0, xs, cell_loop=False)

    if fallback == "sequential":
        return scan()
    elk = ELK().solve(cell, h0, xs, None)
    bad = elk.result != RESULTS.successful
    return lax.cond(batch_any(bad), lambda: jnp.where(bad, scan(), elk.states), lambda: elk.states)


def finish(
    fallback: str | None, solver: Any, cell: Any, h0: Array, xs: Any, out: SolveResult
) -> SolveResult:
    """`out`, with a failed solve replaced by the exact one of `fallback` (see the module).

    The stats gain `fallback_used` (bool: this sequence was re-solved) and `newton_result` (the
    parallel solve's own result code); `num_steps` and `residual` stay the parallel
    solve's, so a log shows how it went. The result is `successful`.
    """
    from ._solver import LinearScan, Sequential
    from ._solver._newton import shift_in

    # (The iterative solvers all differentiate implicitly: `finish` runs inside the
    # forward pass of `unroll`'s custom VJP, so ELK's loop is never differentiated.)
    if fallback is None or isinstance(solver, (Sequential, LinearScan)):
        return out  # (exact already)
    failed = out.result != RESULTS.successful
    lin = out.linearisation
    jacobians = None if lin is None else lin.jacobians

    def fix():
        states = _exact(cell, h0, xs, fallback).astype(out.states.dtype)
        states = jnp.where(failed, states, out.states)
        if jacobians is None:
            return states, None
        prev = shift_in(h0, states)
        fresh = jax.vmap(lambda p, x: solver._linearise_step(cell, p, x)[1])(prev, xs)
        return states, jnp.where(failed, fresh.astype(jacobians.dtype), jacobians)

    states, jacobians = lax.cond(batch_any(failed), fix, lambda: (out.states, jacobians))
    stats = {**out.stats, "fallback_used": failed, "newton_result": out.result._value}
    lin = None if lin is None else dataclasses.replace(lin, jacobians=jacobians)
    return SolveResult(states, RESULTS.successful, stats, lin)
