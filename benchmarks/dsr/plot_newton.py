"""Plot Newton iterations against α from `dsr-newton-alpha.json` (written by newton_alpha.py).

Usage: python benchmarks/dsr/plot_newton.py [RESULTS.json [FIGURE.png]]
"""

import json
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks/results/dsr-newton-alpha.json"
FIGURE = ROOT / "docs/figures/dsr_newton_alpha.png"


def plot(results: Path = RESULTS, figure: Path = FIGURE) -> None:
    d = json.loads(Path(results).read_text())
    rows = d["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, s in zip(axes, ("deer", "quasideer")):
        for T in (1000, 10000, 100000):
            r = [x for x in rows if x["T"] == T and x["solver"] == s]
            if not r:
                continue
            a = [x["alpha"] for x in r]
            n = [np.nan if x["failed"] else x["newton_steps"] for x in r]
            (line,) = ax.plot(a, n, "o-", label=f"T={T}")
            fa = [x["alpha"] for x in r if x["failed"]]
            ax.plot(fa, [150] * len(fa), "x", color=line.get_color(), ms=9)
        ax.axvline(1 - 1 / d["kappa_on_test"], color="gray", ls=":", lw=1)
        ax.set_xlabel("α")
        ax.set_title(f"{s}: trained shPLRNN, Lorenz-63 test data")
        ax.set_yscale("log")
        ax.legend()
    axes[0].set_ylabel("Newton iterations (× = failed)")
    fig.tight_layout()
    fig.savefig(figure, dpi=110)


if __name__ == "__main__":
    plot(*map(Path, sys.argv[1:3]))
