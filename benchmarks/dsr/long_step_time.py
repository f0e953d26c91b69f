"""Newton iterations and wall time per training step: DEER / QuasiDEER against Sequential.

For each trained run given (from `long_sequences.py`), each sequence length and batch, one
jitted `paratime dsr train` step (aGTF at the run's final α, GTF solve, exact adjoint
gradient, RAdam update) per solver, the solvers interleaved repetition by repetition on the
same state and batches. Reports min and median seconds and the mean Newton iterations (the
`newton_steps` the training log records; 0 for Sequential) and the failed solves (Newton
stopped on a diverging or non-finite iterate). `--alpha` replaces the run's α (a grid).
Run from the repository root:

    taskset -c 0 nice -n 5 env PYTHONPATH=src XLA_FLAGS=--xla_cpu_multi_thread_eigen=false \
        .venv/bin/python benchmarks/dsr/long_step_time.py runs/dsr-long/L10000-B1-s0 \
        --shapes 10000x1 10000x16 100000x1 --reps 3 \
        --result benchmarks/results/dsr-long-step-time.json
    ... long_step_time.py runs/dsr-long/L10000-B1-s0 --shapes 10000x1 100000x1 --reps 3 \
        --alpha 0.2 0.3 0.5 --solvers sequential deer quasi-deer \
        --result benchmarks/results/dsr-long-step-time-alpha.json
"""

import argparse
import datetime
import json
import os
import statistics
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

from paratime._names import make_solver
from paratime.data import load_series
from paratime.dsr import load_run
from paratime.dsr._train import make_dsr_step, make_optimizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--shapes", nargs="+", default=["10000x1", "10000x16", "100000x1"])
    p.add_argument("--solvers", nargs="+", default=["sequential", "deer", "quasi-deer", "auto"])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument(
        "--alpha", type=float, nargs="+", default=None, help="GTF α to use (default: the run's)"
    )
    p.add_argument(
        "--result", type=Path, default=Path("benchmarks/results/dsr-long-step-time.json")
    )
    a = p.parse_args()
    rows = []
    for run in a.runs:
        cfg, trained, *_ = load_run(run)
        x = jnp.asarray(load_series(cfg.data), jnp.float32)
        alphas = a.alpha or [float(trained.alpha)]
        for alpha, shape in ((al, sh) for al in alphas for sh in a.shapes):
            state = eqx.tree_at(lambda s: s.alpha, trained, jnp.asarray(alpha, jnp.float32))
            L, B = (int(v) for v in shape.split("x"))
            opt = make_optimizer(cfg.lr, cfg.steps)
            fns = {}
            for name in a.solvers:
                f = make_dsr_step(
                    x, opt, seq_len=L, batch_size=B, solver=make_solver(name), adaptive=True
                )
                jax.block_until_ready(f(state, 1))  # compile
                fns[name] = f
            times = {n: [] for n in fns}
            newton = {n: [] for n in fns}
            failed = {n: 0 for n in fns}
            for r in range(a.reps):
                for n, f in fns.items():
                    t0 = time.perf_counter()
                    out = jax.block_until_ready(f(state, r + 1))
                    times[n].append(time.perf_counter() - t0)
                    newton[n].append(float(out[1]["newton_steps"]))
                    failed[n] += int(float(out[1]["failed"]) > 0)
            row = {"run": run.name, "alpha": float(state.alpha), "seq_len": L, "batch": B,
                   "reps": a.reps}  # fmt: skip
            for n in fns:
                row[n] = {
                    "min_s": min(times[n]),
                    "median_s": statistics.median(times[n]),
                    "mean_newton_steps": statistics.mean(newton[n]),
                    "failed_solves": failed[n],
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {
        "benchmark": "dsr-long-step-time",
        "what": "one jitted dsr training step per solver, interleaved; trained shPLRNN on "
        "slow-fast (M=6, H=200), aGTF at the run's final alpha",
        "device": "CPU, one core (taskset -c 0), XLA single-threaded",
        "cpu": os.uname().machine,
        "backend": jax.default_backend(),
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rows": rows,
    }
    a.result.write_text(json.dumps(out, indent=1))
    head = "| run | L × batch | α | " + " | ".join(f"{n} s (its.)" for n in a.solvers) + " |"
    print(head + "\n|" + "---|" * (len(a.solvers) + 3))
    for r in rows:
        cells = [f"{r[n]['min_s']:.3f} ({r[n]['mean_newton_steps']:.1f})" for n in a.solvers]
        print(f"| {r['run']} | {r['seq_len']} × {r['batch']} | {r['alpha']:.3f} | "
              + " | ".join(cells) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
