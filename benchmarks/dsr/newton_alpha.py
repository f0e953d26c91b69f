"""Newton (DEER) iterations of the GTF-forced recurrence vs α, for a trained shPLRNN."""

import datetime
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import paratime
import paratime.data
from paratime.dsr._cli import _restore

run = Path(sys.argv[1])
out = Path(sys.argv[2])
cfg, state = _restore(run)
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
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for ax, s in zip(axes, ("deer", "quasideer")):
    for T in (1000, 10000, 100000):
        r = [x for x in rows if x["T"] == T and x["solver"] == s]
        if not r:
            continue
        a = [x["alpha"] for x in r]
        n = [x["newton_steps"] if not x["failed"] else np.nan for x in r]
        ax.plot(a, n, "o-", label=f"T={T}")
        fa = [x["alpha"] for x in r if x["failed"]]
        ax.plot(fa, [200] * len(fa), "x", color=ax.lines[-1].get_color())
    ax.set_xlabel("α")
    ax.set_title(s)
    ax.set_yscale("log")
axes[0].set_ylabel("Newton iterations (x = failed)")
axes[0].legend()
fig.tight_layout()
fig.savefig("/work/main/docs/figures/dsr_newton_alpha.png", dpi=110)
