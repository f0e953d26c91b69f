"""The ELM fit's solver-dependent part, its hidden matrix, under Auto and the other solvers.

Mackey-Glass (10 000 steps), windows of 20 steps, 100 hidden units, float64; each solver's
jitted `hidden_matrix` timed in 5 interleaved rounds, the fastest counts:

    PYTHONPATH=src python benchmarks/elm_hidden_solvers.py
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

import paratime
from paratime.elm._cells import make_cell
from paratime.elm._data import autoregressive_task, windows
from paratime.elm._hidden import hidden_matrix

SOLVERS = {
    "auto": paratime.Auto(),
    "sequential": paratime.Sequential(),
    "deer": paratime.DEER(),
    "quasideer": paratime.QuasiDEER(),
}


def main(archs=("gru", "elman")) -> None:
    series = np.asarray(paratime.data.mackey_glass(10_000)).reshape(-1, 1)
    U, F, _ = windows(autoregressive_task(series), 20)
    U, F = jnp.asarray(U), jnp.asarray(F)
    for arch in archs:
        cell = make_cell(arch, U.shape[-1], 100, key=jax.random.key(0), output_size=1)
        fns = {
            k: jax.jit(lambda u, f, s=s: hidden_matrix(cell, u, f, solver=s))
            for k, s in SOLVERS.items()
        }
        for fn in fns.values():
            jax.block_until_ready(fn(U, F))
        times = {k: [] for k in fns}
        for _ in range(5):
            for k, fn in fns.items():
                start = time.perf_counter()
                jax.block_until_ready(fn(U, F))
                times[k].append(time.perf_counter() - start)
        auto = min(times["auto"])
        row = {k: f"{min(v) * 1e3:.1f} ms ({min(v) / auto:.2f}x auto)" for k, v in times.items()}
        print(arch, tuple(U.shape), row, flush=True)


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
