"""Layer-parallel evaluation: a deep residual stack solved by `paratime.unroll` over depth."""

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from paratime.bench import environment
from paratime.pararealnet._blocks import LayerCell, apply_stack, make_blocks


def available_solvers(num_slices: int = 4) -> dict[str, Any]:
    """The paratime solvers to compare: Sequential, DEER, QuasiDEER and Parareal over
    `num_slices` slices of the depth axis."""
    import paratime

    return {
        "sequential": paratime.Sequential(),
        "deer": paratime.DEER(),
        "quasi_deer": paratime.QuasiDEER(),
        f"parareal_S{num_slices}": paratime.Parareal(num_slices=num_slices),
    }


def _best_time(fn, x, repeats: int) -> float:
    jax.block_until_ready(fn(x))  # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x))
        best = min(best, time.perf_counter() - t0)
    return best


def compare_solvers(
    *,
    depth: int = 64,
    width: int = 16,
    hidden: int = 32,
    batch: int = 32,
    repeats: int = 5,
    seed: int = 0,
    solvers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `depth` residual blocks on a batch with each solver; compare with `lax.scan`.

    The per-layer parameters are the `xs` of `paratime.unroll`: the cell is `LayerCell`, the
    state is one example's feature vector, and the batch is `vmap`ped.

    **Returns:**

    A dict with `config`, `environment`, the scan time `scan_seconds`, and for each solver
    `max_abs_error` against the scan, `seconds` (best of `repeats`), `newton_iterations`
    (largest over the batch, where the solver reports it) and `all_converged`.
    """
    import paratime

    kb, kx = jax.random.split(jax.random.key(seed))
    blocks = make_blocks(depth, width, hidden, key=kb)
    x = jax.random.normal(kx, (batch, width))
    dynamic, static = eqx.partition(blocks, eqx.is_array)
    cell = LayerCell(static)
    reference = jax.jit(lambda x: apply_stack(blocks, x))
    expected = reference(x)
    out: dict[str, Any] = {
        "config": dict(depth=depth, width=width, hidden=hidden, batch=batch, repeats=repeats),
        "environment": environment(),
        "scan_seconds": _best_time(reference, x, repeats),
        "solvers": {},
    }
    for name, solver in (solvers or available_solvers()).items():

        def one(h0, solver=solver):
            sol = paratime.unroll(cell, h0, dynamic, solver=solver, throw=False)
            ok = sol.result == paratime.RESULTS.successful
            return sol.states[-1], sol.stats.get("num_steps", jnp.asarray(0)), ok

        fn = jax.jit(jax.vmap(one))
        final, iters, ok = fn(x)
        out["solvers"][name] = {
            "max_abs_error": float(jnp.max(jnp.abs(final - expected))),
            "seconds": _best_time(fn, x, repeats),
            "newton_iterations": int(np.max(np.asarray(iters))),
            "all_converged": bool(np.all(np.asarray(ok))),
        }
    return out
