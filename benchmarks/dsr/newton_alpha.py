"""Newton (DEER) iterations of the GTF-forced recurrence vs α, for a trained shPLRNN."""

import datetime
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
from plot_newton import plot

import paratime
import paratime.data
from paratime.dsr import load_run

run = Path(sys.argv[1])
out = Path(sys.argv[2])
cfg, state, *_ = load_run(run)
model = state.model
test = jnp.asarray(paratime.data.load_series("lorenz63-test"))
alphas = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.9]
rows = []
for T in (1000, 10000, 100000):
    x = test[:T]
    solvers = [("deer", paratime.DEER(max_iters=200))]
    if T == 10000:
        solvers.append(("quasideer", paratime.QuasiDEER(max_iters=200)))
    for solver_name, solver in solvers:
        f = jax.jit(lambda a: model.forced_states(x, a, solver)[1])
        for a in alphas:
            st = f(a)
            jax.block_until_ready(st)
            t = time.perf_counter()
            st = f(a)
            jax.block_until_ready(st)
            wall = time.perf_counter() - t
            rows.append(
                {
                    "T": T,
                    "solver": solver_name,
                    "alpha": a,
                    "newton_steps": int(st["num_steps"]),
                    "failed": bool(st["failed"]),
                    "wall_s": wall,
                }
            )
            print(rows[-1], flush=True)
kappa = float(paratime.dsr.jacobian_kappa(model.cell, model.observation.lift(test[:10000])))
res = {
    "benchmark": "dsr-newton-vs-alpha",
    "run": str(run),
    "trained_alpha": float(state.alpha),
    "kappa_on_test": kappa,
    "device": jax.devices()[0].device_kind,
    "backend": jax.default_backend(),
    "jax": jax.__version__,
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    "rows": rows,
}
out.write_text(json.dumps(res, indent=1))
plot(out)
