"""Does a slow-fast model carry the slow drive u? In its forced trajectory and in its free run.

For each run (trained with some observed columns unforced, `--unforced`; or any run, with
`--unforced COLS` here leaving those columns free in the forced trajectory), on windows of the
test series of one slow period (10 000 samples): the rms error of u along the GTF-forced
trajectory (the fast columns forced with the run's last α, the unforced ones running
freely from the window's first point, as in training) and along the free run from the same
first point (nothing forced), with the amplitude (std) of u in each.

    PYTHONPATH=src python benchmarks/dsr/long_forced_vs_free.py RUN... [--test FILE]
"""

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import paratime
from paratime.data import load_series
from paratime.dsr import load_run

PERIOD = 10_000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--test", default="slow-fast-test", help="dataset name or .npy path")
    p.add_argument("--windows", type=int, default=3)
    p.add_argument(
        "--unforced", help="columns to leave unforced instead of the run's own (e.g. 3)"
    )
    a = p.parse_args()
    test = np.asarray(load_series(a.test))
    print("| run | α | forced: u rms error | forced: u std | free: u rms error | free: u std |")
    print("|---|---:|---:|---:|---:|---:|")
    out = []
    for run in a.runs:
        cfg, state, _, _ = load_run(run)
        model, unforced = state.model, cfg.unforced_columns()
        if a.unforced is not None:
            unforced = tuple(int(c) for c in a.unforced.split(","))
        rec = {"run": run.name, "alpha": float(state.alpha), "unforced": list(unforced)}
        forced_err, forced_std, free_err, free_std = [], [], [], []
        for w in range(a.windows):
            x = jnp.asarray(test[w * PERIOD : (w + 1) * PERIOD])
            z, _ = model.forced_states(x, state.alpha, paratime.Sequential(), unforced=unforced)
            u_forced = np.asarray(model.observation(z))[:, 3]
            u_free = np.asarray(model.generate(z[0], PERIOD - 1))[:, 3]
            u = np.asarray(x[:, 3])
            forced_err.append(np.sqrt(np.mean((u_forced - u) ** 2)))
            free_err.append(np.sqrt(np.mean((u_free - u[1:]) ** 2)))
            forced_std.append(u_forced.std())
            free_std.append(np.nan_to_num(u_free.std(), nan=np.inf))
        rec.update(
            forced_u_rms=float(np.mean(forced_err)), forced_u_std=float(np.mean(forced_std)),
            free_u_rms=float(np.mean(free_err)), free_u_std=float(np.mean(free_std)),
        )  # fmt: skip
        out.append(rec)
        print(
            f"| {run.name} | {rec['alpha']:.3f} | {rec['forced_u_rms']:.2f} | "
            f"{rec['forced_u_std']:.2f} | {rec['free_u_rms']:.2f} | {rec['free_u_std']:.2f} |"
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
