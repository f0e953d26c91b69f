"""What `resets=` costs: the same solve with and without a reset mask, interleaved.

    python benchmarks/resets_cost.py [--T 10000] [--N 16] [--rounds 20]

Times the jitted forward and gradient of DEER and Sequential on a GRU, without resets and
with a mask holding one reset every 1 000 steps; reports the fastest round of each and the
ratio, and the Newton iterations (a reset cuts the linearised recurrence, so a packed context
converges no slower than its longest segment).
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=10_000)
    parser.add_argument("--N", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    T, N = args.T, args.N
    cell = paratime.cells.GRU(4, N, key=jax.random.key(0), dtype=jnp.float32)
    h0 = jnp.zeros(N, jnp.float32)
    xs = jax.random.normal(jax.random.key(1), (T, 4), jnp.float32)
    mask = np.zeros(T, bool)
    mask[1000::1000] = True
    print(f"GRU N={N} T={T}, {args.rounds} interleaved rounds, fastest round; {jax.devices()[0]}")
    print("| solver | pass | no resets (ms) | resets (ms) | ratio | Newton iters (no / with) |")
    print("|---|---|---:|---:|---:|---|")
    for name, solver in (("DEER", paratime.DEER()), ("Sequential", paratime.Sequential())):
        for gradient in (False, True):

            def run(cell, xs, resets, solver=solver, gradient=gradient):
                def loss(cell):
                    sol = paratime.unroll(cell, h0, xs, solver=solver, resets=resets)
                    return jnp.sum(sol.states**2), sol.stats["num_steps"]

                if gradient:
                    return eqx.filter_grad(lambda c: loss(c)[0])(cell)
                return loss(cell)

            fns = {
                "none": eqx.filter_jit(lambda c, x: run(c, x, None)),
                "resets": eqx.filter_jit(lambda c, x, m=jnp.asarray(mask): run(c, x, m)),
            }
            steps = {}
            for key, fn in fns.items():
                out = jax.block_until_ready(fn(cell, xs))
                steps[key] = "-" if gradient else int(out[1])
            best = {key: float("inf") for key in fns}
            for _ in range(args.rounds):
                for key, fn in fns.items():
                    start = time.perf_counter()
                    jax.block_until_ready(fn(cell, xs))
                    best[key] = min(best[key], time.perf_counter() - start)
            print(
                f"| {name} | {'gradient' if gradient else 'forward'} | {1e3 * best['none']:.2f} "
                f"| {1e3 * best['resets']:.2f} | {best['resets'] / best['none']:.2f} "
                f"| {steps['none']} / {steps['resets']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
