"""What the failure policy costs, side by side in one run.

1. Nothing fails: a training step (value and gradient of a loss over a batch) with
   `fallback=None` and with `fallback="sequential"`, jitted, timed in interleaved rounds
   so that load changes hit both alike. Prints the medians and the ratios (of the medians
   and of the fastest rounds); the target is ≤ 1.05×.
2. Something fails: the finisher. A batch in which one sequence makes DEER diverge,
   finished by `"sequential"` or by `"elk"` (damped Newton, then the scan for what ELK
   cannot finish): the time of the whole solve, and whether ELK alone finished it.

    python benchmarks/fallback_cost.py --rounds 20 [--no-finisher]
"""

import argparse
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import paratime

# name: (cell constructor, T, N, batch)
CASES = {
    "gru-T1e3-b8": (paratime.cells.GRU, 1_000, 16, 8),
    "gru-T1e4-b1": (paratime.cells.GRU, 10_000, 16, 1),
}


def step_program(solver, fallback, batch):
    def loss(cell, h0, xs):
        def one(x):
            sol = paratime.unroll(cell, h0, x, solver=solver, fallback=fallback, throw=False)
            return jnp.mean(sol.states**2)

        return jnp.mean(jax.vmap(one)(xs)) if batch > 1 else one(xs[0])

    return eqx.filter_jit(eqx.filter_value_and_grad(loss))


def time_rounds(programs, args, rounds):
    for f in programs.values():  # compile and warm up
        jax.block_until_ready(f(*args))
    times = {name: [] for name in programs}
    for _ in range(rounds):
        for name, f in programs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(*args))
            times[name].append(time.perf_counter() - t0)
    return times


def report(times, base):
    med0, min0 = statistics.median(times[base]), min(times[base])
    for name, ts in times.items():
        med, low = statistics.median(ts), min(ts)
        print(
            f"  {name:12s} median {med * 1e3:9.2f} ms  min {low * 1e3:9.2f} ms  "
            f"ratio (median) {med / med0:.3f}x  (min) {low / min0:.3f}x",
            flush=True,
        )


def nothing_fails(rounds):
    print("1. nothing fails: value and gradient of a loss, DEER", flush=True)
    for name, (make, T, N, batch) in CASES.items():
        cell = make(3, N, key=jax.random.key(0), dtype=jnp.float32)
        xs = jax.random.normal(jax.random.key(1), (batch, T, 3), jnp.float32)
        h0 = jnp.zeros(N, jnp.float32)
        programs = {
            "no fallback": step_program(paratime.DEER(), None, batch),
            "sequential": step_program(paratime.DEER(), "sequential", batch),
        }
        print(f" {name}", flush=True)
        report(time_rounds(programs, (cell, h0, xs), rounds), "no fallback")


def finisher(rounds):
    print("2. one sequence of the batch fails: the finisher", flush=True)
    T, N, batch = 2_000, 8, 8
    cell = paratime.cells.Elman(2, N, key=jax.random.key(0), weight_scale=3.0)
    # Large inputs saturate the tanh (DEER converges in ~15 iterations); near zero the
    # cell expands (spectral radius ≈ 3) and DEER diverges: one such sequence in the batch.
    xs = 20.0 * jax.random.normal(jax.random.key(1), (batch, T, 2))
    xs = xs.at[3].multiply(0.0025)
    h0 = jnp.zeros(N)

    def program(fallback):
        def run(cell, xs):
            def one(x):
                return paratime.unroll(
                    cell, h0, x, solver=paratime.DEER(), fallback=fallback, throw=False
                )

            sol = jax.vmap(one)(xs)
            return sol.states, sol.stats.get("fallback_used", sol.result._value != 0)

        return eqx.filter_jit(run)

    _, used = program("sequential")(cell, xs)
    print(f" T={T} N={N} batch={batch}: fell back {int(jnp.sum(used))} of {batch}", flush=True)
    elk = jax.vmap(
        lambda x: paratime.unroll(cell, h0, x, solver=paratime.ELK(), throw=False).result._value
    )(xs[3:4])
    print(f" ELK alone on the failed sequence: result code {int(elk[0])} (0: finished)")
    programs = {
        "no fallback": program(None),
        "sequential": program("sequential"),
        "elk": program("elk"),
    }
    report(time_rounds(programs, (cell, xs), rounds), "no fallback")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-finisher", action="store_true", help="part 1 only")
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}", flush=True)
    nothing_fails(args.rounds)
    if not args.no_finisher:
        finisher(max(3, args.rounds // 4))


if __name__ == "__main__":
    main()
