"""The kernels against the XLA paths, side by side in one process (part of gpu_check.sh).

    PYTHONPATH=src python benchmarks/kernel_check.py --T 100000 --batch 16 --N 256
    PYTHONPATH=src python benchmarks/kernel_check.py --T 512 --batch 2 --N 16   # CPU dry run

1. the diagonal linear recurrence: `Pallas()` vs `Associative()` (XLA's scan) vs `Sequential()`;
2. the DiagonalGRU and DiagonalLSTM training step (loss and gradient w.r.t. the cell), batch
   `--batch` (vmap), under DEER with the fused kernel, DEER with XLA's scan, `Sequential`, and
   cuDNN's `nn.GRU`/`nn.LSTM` where PyTorch sees a GPU.

Each line: the median of `--repeats` timed runs after one compiling call, and the largest
deviation from `Sequential` (states for 1., gradients for 2.). On a CPU the kernels run in
Pallas' interpret mode: the times there only prove that the paths run.
"""

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import paratime
from paratime.bench import environment
from paratime.bench._baselines import time_torch_rnn, torch_device
from paratime.recurrences import Associative, Pallas, Sequential


def timed(f, *args, repeats: int) -> tuple[float, float, object]:
    """(first call s, median s, output) of a jitted `f`."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(*args))
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times)), out


def deviation(x, y) -> float:
    diffs = jax.tree_util.tree_map(lambda a, b: jnp.max(jnp.abs(a - b)), x, y)
    return float(max(jax.tree_util.tree_leaves(diffs)))


def scans(args, emit) -> None:
    key = jax.random.split(jax.random.key(0), 2)
    shape = (args.batch, args.T, args.N)
    a = jax.random.uniform(key[0], shape, minval=0.5, maxval=0.99)
    b = jax.random.normal(key[1], shape)
    h0 = jnp.zeros(args.N)
    ref = None
    for name, rec in (
        ("sequential", Sequential()),
        ("xla-scan", Associative()),
        ("kernel", Pallas()),
    ):
        f = jax.jit(
            jax.vmap(lambda a, b, rec=rec: paratime.linear_recurrence(a, b, h0, recurrence=rec))
        )
        first, median, out = timed(f, a, b, repeats=args.repeats)
        ref = out if ref is None else ref
        emit(
            {
                "part": "diagonal scan",
                "path": name,
                "first_s": first,
                "median_s": median,
                "max_dev": deviation(out, ref),
            }
        )


def training(args, emit) -> None:
    cells = {
        "DiagonalGRU": (paratime.cells.DiagonalGRU, (args.N,), "GRU"),
        "DiagonalLSTM": (paratime.cells.DiagonalLSTM, (args.N, 2), "LSTM"),
    }
    xs = jax.random.normal(jax.random.key(2), (args.batch, args.T, args.D))
    solvers = {
        "sequential": paratime.Sequential(),
        "xla-scan": paratime.DEER(recurrence=Associative()),
        "kernel": paratime.DEER(recurrence=Pallas()),
    }
    for cell_name, (cls, state, torch_name) in cells.items():
        cell = cls(args.D, args.N, key=jax.random.key(1), dtype=jnp.float32)
        h0 = jnp.zeros(state)
        ref = None
        for name, solver in solvers.items():

            def loss(cell, xs, solver=solver):
                states = jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states)(xs)
                return jnp.mean(states**2)

            f = eqx.filter_jit(eqx.filter_value_and_grad(loss))
            first, median, out = timed(f, cell, xs, repeats=args.repeats)
            ref = out if ref is None else ref
            emit(
                {
                    "part": f"{cell_name} train",
                    "path": name,
                    "first_s": first,
                    "median_s": median,
                    "max_dev": deviation(out, ref),
                }
            )
        device = torch_device(jax.default_backend())
        if device != "cuda":
            emit({"part": f"{cell_name} train", "path": "cuDNN", "skipped": "no PyTorch GPU"})
            continue
        t = time_torch_rnn(torch_name, args.N, args.D, args.T, args.batch, "train", args.repeats)
        emit(
            {
                "part": f"{cell_name} train",
                "path": f"cuDNN nn.{torch_name}",
                "median_s": t["median_s"],
                "note": "the dense-weight cell, same sizes",
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--N", type=int, default=256)
    parser.add_argument("--D", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    env = environment()
    lines = []

    def emit(line):
        line = {
            **line,
            "T": args.T,
            "batch": args.batch,
            "N": args.N,
            "device": env.get("device"),
            "jax": jax.__version__,
        }
        print(json.dumps(line), flush=True)
        lines.append(line)

    scans(args, emit)
    training(args, emit)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(x) + "\n" for x in lines))


if __name__ == "__main__":
    main()
