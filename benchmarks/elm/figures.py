"""A figure of the ELM-versus-BPTT comparison: training time and test NRMSE per row."""

from pathlib import Path

import numpy as np

_SERIES = (
    ("elm", "ELM (QR)", "tab:green"),
    ("bptt_sequential", "BPTT, Sequential", "tab:blue"),
    ("bptt_parallel", "BPTT, parallel solver", "tab:orange"),
)


def plot_comparison(rows: list[dict], path: str | Path) -> None:
    """Two panels (log scale): training CPU seconds (steadier than wall time on a shared
    machine) and one-step test NRMSE, one bar group per dataset × architecture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['dataset']}\n{r['arch']}" for r in rows]
    x = np.arange(len(rows))
    width = 0.27
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.55 * len(rows)), 7), sharex=True)
    for i, (key, name, color) in enumerate(_SERIES):
        for ax, metric in zip(axes, ("cpu_seconds", "nrmse")):
            vals = [r.get(key, {}).get(metric, np.nan) for r in rows]
            vals = [np.nan if v is None else v for v in vals]
            ax.bar(x + (i - 1) * width, vals, width, label=name, color=color)
    axes[0].set_ylabel("train CPU time (s)")
    axes[1].set_ylabel("test NRMSE (one step)")
    for ax in axes:
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    axes[1].set_xticks(x, labels, rotation=90, fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
