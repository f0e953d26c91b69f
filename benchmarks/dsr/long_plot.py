"""Figures of the long-sequence experiment (`long_sequences.py --save-generated`).

    PYTHONPATH=src .venv/bin/python benchmarks/dsr/long_plot.py runs/dsr-long \
        --seeds 0 1 2 --configs 200x16 200x50 10000x1 --out docs/figures/dsr-long

A config may carry its variant's tag (`quad-free/10000x1` reads RUNS/quad-free-L10000-B1-sS,
as `long_sequences.py --tag quad-free` names it). Writes OUT-traces.png (x and the drive u
over the first 50 000 steps of the test series and of each run's free run, one seed per
column) and OUT-activity.png (the fast activity, the std of x in windows of 200 samples,
against the window mean of u: the slow modulation).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from paratime.data import load_series

SHOW = 50_000
WINDOW = 200


def _windows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0] // WINDOW
    w = x[: n * WINDOW].reshape(n, WINDOW, x.shape[1])
    return w[:, :, 0].std(axis=1), w[:, :, 3].mean(axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--configs", nargs="+", default=["200x16", "200x50", "10000x1"])
    p.add_argument("--test", default="slow-fast-test")
    p.add_argument("--out", default="docs/figures/dsr-long")
    a = p.parse_args()
    test = np.asarray(load_series(a.test))
    rows = [("test data", None)] + [(c, c) for c in a.configs]
    fig, axes = plt.subplots(
        len(rows), len(a.seeds), figsize=(4.2 * len(a.seeds), 1.6 * len(rows)),
        sharex=True, sharey=True, squeeze=False,
    )  # fmt: skip
    fig2, axes2 = plt.subplots(
        1, len(a.configs) + 1, figsize=(3.2 * (len(a.configs) + 1), 3.0), sharey=True
    )
    act, u = _windows(test)
    axes2[0].scatter(u, act, s=3, c="k")
    axes2[0].set_title("test data")
    colours = plt.get_cmap("tab10")
    for i, (label, cfg) in enumerate(rows):
        for j, seed in enumerate(a.seeds):
            ax = axes[i, j]
            if cfg is None:
                x = test
            else:
                tag, _, shape = cfg.rpartition("/")
                L, B = shape.split("x")
                f = a.runs / f"{tag + '-' if tag else ''}L{L}-B{B}-s{seed}" / "generated.npy"
                if not f.exists():
                    ax.set_axis_off()
                    continue
                x = np.load(f)
                w_act, w_u = _windows(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))
                k = a.configs.index(cfg) + 1
                axes2[k].scatter(w_u, w_act, s=3, color=colours(j), label=f"seed {seed}")
                axes2[k].set_title(f"{tag + ', ' if tag else ''}L × batch = {L} × {B}", fontsize=9)
            ax.plot(x[:SHOW, 0], lw=0.2, color="tab:blue")
            ax.plot(x[:SHOW, 3], lw=1.0, color="tab:orange")
            ax.set_ylim(-3, 3)
            ax.set_title(f"{label}, seed {seed}" if cfg else label, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("step of the free run (x blue, drive u orange)")
    for ax in axes2:
        ax.set_xlabel("window mean of u")
    axes2[0].set_ylabel("std of x in the window")
    axes2[-1].legend(fontsize=7, markerscale=3)
    fig.tight_layout()
    fig2.tight_layout()
    fig.savefig(f"{a.out}-traces.png", dpi=80)
    fig2.savefig(f"{a.out}-activity.png", dpi=80)


if __name__ == "__main__":
    main()
