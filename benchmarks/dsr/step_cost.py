"""Wall time of one jitted GTF training step (fresh shPLRNN) per hidden size, length, solver.

    taskset -c 1 env XLA_FLAGS=--xla_cpu_multi_thread_eigen=false \
        .venv/bin/python benchmarks/dsr/step_cost.py --hidden 100 200 --seq-len 10000 100000
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import paratime
from paratime.data import lorenz63_train
from paratime.dsr import build_model
from paratime.dsr._train import DSRState, make_dsr_step, make_optimizer

p = argparse.ArgumentParser()
p.add_argument("--hidden", type=int, nargs="+", default=[200])
p.add_argument("--seq-len", type=int, nargs="+", default=[10000])
p.add_argument("--batch", type=int, default=1)
p.add_argument("--solver", nargs="+", default=["sequential"])
p.add_argument("--reps", type=int, default=3)
a = p.parse_args()
x = jnp.asarray(lorenz63_train())
for H in a.hidden:
    for L in a.seq_len:
        for s in a.solver:
            solver = {"sequential": paratime.Sequential(), "deer": paratime.DEER()}[s]
            model = build_model("shplrnn", 3, latent=3, hidden=H, key=jax.random.key(0))
            opt = make_optimizer(1e-3, 100)
            st = DSRState(
                model,
                opt.init(eqx.filter(model, eqx.is_inexact_array)),
                jax.random.key_data(jax.random.key(1)),
                jnp.asarray(0.1, x.dtype),
            )
            step = make_dsr_step(x, opt, seq_len=L, batch_size=a.batch, solver=solver)
            st, m = step(st, 0)
            jax.block_until_ready(m["loss"])
            ts = []
            for k in range(1, a.reps + 1):
                t0 = time.perf_counter()
                st, m = step(st, k)
                jax.block_until_ready(m["loss"])
                ts.append(time.perf_counter() - t0)
            print(
                f"H={H} L={L} B={a.batch} {s}: min {min(ts):.3f}s median "
                f"{sorted(ts)[len(ts) // 2]:.3f}s newton={float(m['newton_steps'])}",
                flush=True,
            )
