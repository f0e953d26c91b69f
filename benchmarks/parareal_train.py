"""Train a GRU with `Parareal` and with BPTT (`Sequential`) at equal gradient steps.

Tasks: one-step prediction on Lorenz-63 (`../shared/data/lorenz63` if present, else
`paratime.data.lorenz63_train()`) and a long-memory task
(recall the input from `lag` steps back). Writes one JSON object and a PNG figure:

    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false nice -n 10 .venv/bin/python \
        benchmarks/parareal_train.py --out benchmarks/results/scaling-parareal-train.json \
        --figure docs/figures/parareal-train.png
"""

import argparse
import datetime
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import paratime
import paratime.data
from paratime import Parareal


class Model(eqx.Module):
    cell: paratime.cells.GRU
    readout: eqx.nn.Linear

    def __init__(self, d_in, hidden, d_out, key):
        k1, k2 = jax.random.split(key)
        self.cell = paratime.cells.GRU(d_in, hidden, key=k1)
        self.readout = eqx.nn.Linear(hidden, d_out, key=k2)


def _solvers(num_slices):
    return {
        "Sequential (BPTT)": lambda cell: paratime.Sequential(),
        f"Parareal({num_slices}), QuasiDEER sweep": lambda cell: Parareal(num_slices),
        f"Parareal({num_slices}), coarse = cell on every 4th input": lambda cell: Parareal(
            num_slices, coarse=cell, coarse_stride=4
        ),
    }


# The recorded runs used the benchmark file beside the repository; without it, the package's
# own Lorenz-63 benchmark (built the same way: dt 0.01, standardised, 5 % noise) is used.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "lorenz63"


def _lorenz_data() -> np.ndarray:
    path = SHARED / "lorenz63_on0.05_train.npy"
    return np.load(path) if path.is_file() else paratime.data.lorenz63_train()


def _lorenz_batches(T, batch):
    data = jnp.asarray(_lorenz_data())

    def sample(key):
        starts = jax.random.randint(key, (batch,), 0, data.shape[0] - T - 1)
        window = jax.vmap(lambda s: jax.lax.dynamic_slice_in_dim(data, s, T + 1))(starts)
        return window[:, :-1].astype(jnp.float64), window[:, 1:].astype(jnp.float64)

    return sample, 3, 3


def _memory_batches(T, batch, lag=16):
    def sample(key):
        u = jax.random.choice(key, jnp.array([-1.0, 1.0]), (batch, T, 1))
        target = jnp.concatenate([jnp.zeros((batch, lag, 1)), u[:, :-lag]], axis=1)
        return u, target

    return sample, 1, 1


def run_task(name, sample, d_in, d_out, args):
    runs = {}
    for label, make_solver in _solvers(args.num_slices).items():
        model = Model(d_in, args.hidden, d_out, jax.random.key(0))

        def loss_fn(model, key, make_solver=make_solver):
            xs, ys = sample(key)
            solver = make_solver(model.cell)
            h0 = jnp.zeros(args.hidden)

            def one(x):
                sol = paratime.unroll(model.cell, h0, x, solver=solver)
                return sol.states, sol.stats["num_steps"]

            states, iters = jax.vmap(one)(xs)
            pred = jax.vmap(jax.vmap(model.readout))(states)
            return jnp.mean((pred - ys) ** 2), {"iterations": jnp.mean(iters)}

        t0 = time.perf_counter()
        _, history = paratime.train.fit(
            loss_fn,
            model,
            optax.adam(args.lr),
            steps=args.steps,
            key=jax.random.key(1),
            progress=False,
        )
        total = time.perf_counter() - t0
        times = [h["time"] for h in history]
        per_step = float(np.median(np.diff(times))) if len(times) > 2 else float("nan")
        runs[label] = dict(
            loss=[float(h["loss"]) for h in history],
            iterations=[float(h["iterations"]) for h in history],
            seconds_per_step_median=per_step,
            seconds_total_with_compile=total,
        )
        print(name, label, runs[label]["loss"][-1], per_step, flush=True)
    return runs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--T", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--num-slices", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--out", default="benchmarks/results/scaling-parareal-train.json")
    p.add_argument("--figure", default="docs/figures/parareal-train.png")
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from --out")
    args = p.parse_args()
    if args.plot_only:
        _plot(json.loads(Path(args.out).read_text()), args.figure)
        return
    jax.config.update("jax_enable_x64", True)
    tasks = {
        "lorenz63 one-step prediction": _lorenz_batches(args.T, args.batch),
        "memory (recall input from 16 steps back)": _memory_batches(args.T, args.batch),
    }
    result = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        jax=jax.__version__,
        device=str(jax.devices()[0]),
        settings=vars(args),
        tasks={name: run_task(name, *task, args) for name, task in tasks.items()},
    )
    Path(args.out).write_text(json.dumps(result, indent=1))
    _plot(result, args.figure)
    print("wrote", args.out, args.figure)


def _plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 6), squeeze=False)
    for j, (name, runs) in enumerate(tasks.items()):
        for i, (label, run) in enumerate(runs.items()):
            style = dict(color=f"C{i}", ls="-" if label.startswith("Sequential") else "--")
            axes[0, j].plot(run["loss"], label=label, **style)
            if not label.startswith("Sequential"):
                axes[1, j].plot(run["iterations"], label=label, color=f"C{i}")
        axes[0, j].set(title=name, yscale="log", ylabel="training loss (MSE)")
        axes[1, j].set(xlabel="gradient step", ylabel="parareal iterations (batch mean)")
        axes[0, j].legend(fontsize=7)
        axes[1, j].legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
