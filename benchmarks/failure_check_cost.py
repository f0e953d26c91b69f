"""What the `throw=True` failure check costs when no solve fails, side by side.

Three jitted programs per case, timed in interleaved rounds (so that load changes hit all
alike): `unroll(throw=False)` (no check), `unroll(throw=True)` (paratime's check: a
`lax.cond` whose failing branch calls back to the host) and `unroll(throw=False)` followed
by `eqx.branched_error_if` on the result code (Equinox's mechanism). Prints the medians and
the ratios to the unchecked program (of the medians and of the fastest rounds).

    python benchmarks/failure_check_cost.py --rounds 15
"""

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import paratime

CASES = {
    # name: (solver, T, N, batch)
    "deer-T1e4": (paratime.DEER(), 10_000, 16, 1),
    "deer-T1e3": (paratime.DEER(), 1_000, 16, 1),
    "quasideer-T1e3-b16": (paratime.QuasiDEER(), 1_000, 16, 16),
}
MESSAGES = [""] + [f"paratime: solve failed ({m})" for m in paratime.RESULTS._index_to_message[1:]]


def programs(solver, batch):
    def plain(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=solver, throw=False).states

    def paratime_check(cell, h0, xs):
        return paratime.unroll(cell, h0, xs, solver=solver, throw=True).states

    def equinox_check(cell, h0, xs):
        sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
        code = sol.result._value
        return eqx.branched_error_if(sol.states, code != 0, code, MESSAGES)

    out = {"none": plain, "paratime": paratime_check, "eqx.error_if": equinox_check}
    if batch > 1:
        out = {k: jax.vmap(f, in_axes=(None, None, 0)) for k, f in out.items()}
    return {k: jax.jit(f) for k, f in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for name, (solver, T, N, batch) in CASES.items():
        cell = paratime.cells.GRU(3, N, key=jax.random.key(0))
        shape = (T, 3) if batch == 1 else (batch, T, 3)
        xs = jax.random.normal(jax.random.key(1), shape)
        h0 = jnp.zeros(N)
        progs = programs(solver, batch)
        times = {k: [] for k in progs}
        for f in progs.values():
            jax.block_until_ready(f(cell, h0, xs))  # compile and warm up
        for _ in range(args.rounds):
            for k, f in progs.items():
                t0 = time.perf_counter()
                jax.block_until_ready(f(cell, h0, xs))
                times[k].append(time.perf_counter() - t0)
        base, best = statistics.median(times["none"]), min(times["none"])
        row = ", ".join(
            f"{k} {statistics.median(v) * 1e3:.2f} ms (median {statistics.median(v) / base:.3f}x,"
            f" best {min(v) / best:.3f}x)"
            for k, v in times.items()
        )
        print(f"{name}: {row}")


if __name__ == "__main__":
    main()
