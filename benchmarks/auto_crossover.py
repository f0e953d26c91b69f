"""Where `Auto`'s implicit adjoint and backpropagation through the scan cross over on a CPU.

Times one sequence's gradient (float32, loss = sum of squared states) by
`Sequential(adjoint=ImplicitAdjoint())` (the sequential scan + the implicit adjoint) and by
`Sequential()` (BPTT), interleaved, five
rounds, the fastest of each, and prints the ratio adjoint/BPTT. Cases are CELL:n:T, n the
cell's hidden size (the LSTM's state is 2n):

    PYTHONPATH=src python benchmarks/auto_crossover.py Elman:16:3e4 GRU:16:1e5 LSTM:8:1e5
"""

import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import paratime


def gradient(h0, xs, solver):
    def loss(cell):
        states = paratime.unroll(cell, h0, xs, solver=solver).states
        return jnp.sum(jax.tree_util.tree_leaves(states)[0] ** 2)

    return eqx.filter_jit(eqx.filter_grad(loss))


def main(cases: list[str]) -> None:
    for case in cases:
        name, n, T = case.split(":")
        n, T = int(n), int(float(T))
        key = jax.random.key(0)
        cell = getattr(paratime.cells, name)(3, n, key=key)
        xs = jax.random.normal(key, (T, 3))
        h0 = (jnp.zeros(n), jnp.zeros(n)) if name == "LSTM" else jnp.zeros(n)
        fns = {
            "adjoint": gradient(h0, xs, paratime.Sequential(adjoint=paratime.ImplicitAdjoint())),
            "bptt": gradient(h0, xs, paratime.Sequential()),
        }
        for fn in fns.values():
            jax.block_until_ready(fn(cell))
        times = {k: [] for k in fns}
        for _ in range(5):
            for k, fn in fns.items():
                start = time.perf_counter()
                jax.block_until_ready(fn(cell))
                times[k].append(time.perf_counter() - start)
        a, b = min(times["adjoint"]), min(times["bptt"])
        N = 2 * n if name == "LSTM" else n
        mb = 4 * T * N * N / 1e6
        print(
            f"{name} N={N} T={T:.0e} Jacobians {mb:.0f} MB: adjoint {a * 1e3:.1f} ms, "
            f"BPTT {b * 1e3:.1f} ms, ratio {a / b:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
