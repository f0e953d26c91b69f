"""Wall time per training step (forward GTF solve + adjoint gradient + RAdam update), DEER vs
Sequential, for the trained 1000-step shPLRNN (L = 10 000 run) at each sequence length.
Interleaved repetitions; min and median reported (the CPU is shared, min is the robust one)."""

import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import paratime
import paratime.data
from paratime.dsr import load_run
from paratime.dsr._train import make_dsr_step, make_optimizer

cfg, state, *_ = load_run(Path(sys.argv[1]))
x = jnp.asarray(paratime.data.load_series("lorenz63"))
rows = []
for L in (200, 1000, 10000, 100000):
    reps = 20 if L <= 10000 else 6
    fns = {}
    for name, solver in (("deer", paratime.DEER()), ("sequential", paratime.Sequential())):
        opt = make_optimizer(3e-3, 1000)
        fns[name] = make_dsr_step(x, opt, seq_len=L, batch_size=1, solver=solver, adaptive=True)
        jax.block_until_ready(fns[name](state, 0))  # compile
    times = {n: [] for n in fns}
    newton = []
    for r in range(reps):
        for n, f in fns.items():
            t = time.perf_counter()
            out = f(state, r + 1)
            jax.block_until_ready(out)
            times[n].append(time.perf_counter() - t)
            if n == "deer":
                newton.append(float(out[1]["newton_steps"]))
    row = {"seq_len": L, "reps": reps, "mean_newton_steps": statistics.mean(newton)}
    for n, ts in times.items():
        row[n] = {"min_s": min(ts), "median_s": statistics.median(ts)}
    rows.append(row)
    print(row, flush=True)
res = {
    "benchmark": "dsr-step-time",
    "what": "one jitted training step, batch 1, shPLRNN M=3 H=50, aGTF",
    "model": sys.argv[1],
    "alpha": float(state.alpha),
    "device": "CPU, 2 cores shared (load average ~20)",
    "backend": jax.default_backend(),
    "jax": jax.__version__,
    "dtype": str(x.dtype),
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    "rows": rows,
}
Path(sys.argv[2]).write_text(json.dumps(res, indent=1))
