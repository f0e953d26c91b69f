"""Time one training step of the byte-level LM under each solver, at long contexts.

    PYTHONPATH=src python benchmarks/lm_step.py --context 16384 --batch 1 --repeats 3

For each solver: the median wall time of a jitted loss-and-gradient step (after one compiling
call), the Newton iterations per layer and the loss, as JSON lines on stdout and in
`--out` (default benchmarks/results/lm/step-<platform>.jsonl). On an accelerator use a
larger `--batch` (e.g. 16); `--cell diagonal_gru` is the ParaRNN-style default. A solver name
ending in `+pallas` (e.g. `quasi-deer+pallas`) solves with `recurrences.Pallas()` (the fused
Newton kernel for the diagonal cells; interpret mode on a CPU).
"""

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime
from paratime.lm import LMConfig, load_corpus, make_model
from paratime.lm._corpus import sample_windows
from paratime.lm._train import _loss
from paratime.nn import RNN
from paratime.recurrences import Pallas

ROOT = Path(__file__).resolve().parents[1]


def with_kernels(model):
    """`model` with `recurrences.Pallas()` as the recurrence of its layers' Newton solvers."""

    def swap(x):
        if isinstance(x, RNN) and isinstance(x.solver, (paratime.DEER, paratime.QuasiDEER)):
            solver = dataclasses.replace(x.solver, recurrence=Pallas())
            return RNN(x.cell, solver, initial_state=x.initial_state)
        return x

    return jax.tree_util.tree_map(swap, model, is_leaf=lambda x: isinstance(x, RNN))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--context", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--cell", default="diagonal_gru")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--solvers", default="quasi-deer,sequential")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    corpus = load_corpus("stdlib")
    windows = jnp.asarray(
        sample_windows(corpus.train, args.batch, args.context + 1, np.random.default_rng(0))
    )
    lines = []
    for solver in args.solvers.split(","):
        name, _, kernels = solver.partition("+")
        config = LMConfig(
            cell=args.cell,
            solver=name,
            dim=args.dim,
            hidden_size=args.dim,
            depth=args.depth,
            context=args.context,
            batch=args.batch,
        )
        model = make_model(config)
        if kernels == "pallas":
            model = with_kernels(model)

        @eqx.filter_jit
        def step(model, windows):
            (loss, warm), grads = eqx.filter_value_and_grad(_loss, has_aux=True)(
                model, windows, None
            )
            iters = jnp.stack([jnp.mean(s) for s in warm.num_steps]).mean()
            return loss, iters, grads

        t0 = time.perf_counter()
        jax.block_until_ready(step(model, windows))
        compile_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            loss, iters, grads = jax.block_until_ready(step(model, windows))
            times.append(time.perf_counter() - t0)
        line = {
            "cell": args.cell,
            "solver": solver,
            "context": args.context,
            "batch": args.batch,
            "dim": args.dim,
            "depth": args.depth,
            "step_s": float(np.median(times)),
            "first_call_s": compile_s,
            "newton_iters": float(iters),
            "loss": float(loss),
            "platform": jax.default_backend(),
            "device": str(jax.devices()[0].device_kind),
            "jax": jax.__version__,
            "machine": platform.machine(),
        }
        print(json.dumps(line), flush=True)
        lines.append(line)
    out = args.out or ROOT / "benchmarks" / "results" / "lm" / f"step-{jax.default_backend()}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))


if __name__ == "__main__":
    main()
