"""Figure: test accuracy and time per training step against the number of sub-networks P."""

import os
from collections import defaultdict
from typing import Any

import numpy as np


def _timing_series(timing: dict[str, Any]) -> dict[str, dict[int, list[float]]]:
    """Group `python -m benchmarks.pararealnet time` results as {series: {P: [seconds]}}."""
    names = {
        "pararealnet-vmap": "ParaRealNet (vmap, 1 device)",
        "pararealnet-shard": "ParaRealNet (shard, P devices)",
        "baseline-matching": "sequential ResNet (equal params)",
    }
    series: dict[str, dict[int, list[float]]] = defaultdict(dict)
    for name, r in timing["models"].items():
        prefix, p = name.rsplit("-P", 1)
        series[names.get(prefix, prefix)][int(p)] = [r["median_seconds_per_step"]]
    return series


def _color(name: str) -> str:
    """The same colour for the same kind of model in both panels."""
    if name.startswith("sequential"):
        return "C1"
    if "shard" in name:
        return "C2"
    return "C3" if "input" in name else "C0"


def plot_runs(
    runs: list[dict[str, Any]],
    out: str | os.PathLike,
    timing: dict[str, Any] | None = None,
) -> None:
    """Plot `metrics.json` dicts of `paratime pararealnet train` runs against P.

    One series per (interface, mode) for the ParaRealNet and one for the sequential baselines
    (each baseline matches the parameter count of its run's ParaRealNet). Repeated runs (seeds)
    are drawn as points, their mean as a line.

    **Arguments:**

    - `runs`: the loaded `metrics.json` dicts.
    - `out`: the PNG file to write.
    - `timing`: optional result of `python -m benchmarks.pararealnet time`; if given, the
        right panel shows its interleaved medians instead of the training runs' own step times.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        cfg = run["config"]
        p = int(cfg["num_parallel"])
        name = f"ParaRealNet ({cfg['interface']}, {cfg['parallel']})"
        r = run["pararealnet"]
        series[name][p].append((r["test_accuracy"], r["seconds_per_step"]))
        if "baseline" in run:
            b = run["baseline"]
            series["sequential ResNet (equal params)"][p].append(
                (b["test_accuracy"], b["seconds_per_step"])
            )
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 4))
    for name, by_p in sorted(series.items()):
        ps = sorted(by_p)
        style = "--" if name.startswith("sequential") else "-"
        for ax, col, scale in ((ax_acc, 0, 100.0), (ax_time, 1, 1e3)):
            means = [scale * np.mean([v[col] for v in by_p[p]]) for p in ps]
            (line,) = ax.plot(ps, means, style, marker="o", label=name, color=_color(name))
            for p in ps:
                values = [scale * v[col] for v in by_p[p]]
                ax.scatter([p] * len(values), values, color=line.get_color(), s=10, alpha=0.5)
    if timing is not None:
        ax_time.clear()
        for name, by_p in sorted(_timing_series(timing).items()):
            ps = sorted(by_p)
            style = "--" if name.startswith("sequential") else "-"
            times = [1e3 * by_p[p][0] for p in ps]
            ax_time.plot(ps, times, style, marker="o", label=name, color=_color(name))
        ax_time.legend(fontsize=8)
    depth = runs[0]["config"]["depth"] if runs else "?"
    data = runs[0]["config"]["data"] if runs else "?"
    ax_acc.set(xlabel="sub-networks P", ylabel="test accuracy (%)", title=f"{data}, L={depth}")
    ax_time.set(xlabel="sub-networks P", ylabel="ms per training step", title="wall time")
    device = (timing or (runs[0] if runs else {"environment": {"device": ""}}))["environment"][
        "device"
    ]
    ax_time.annotate(device, (0.02, 0.02), xycoords="axes fraction", fontsize=8)
    all_p = sorted({int(run["config"]["num_parallel"]) for run in runs})
    for ax in (ax_acc, ax_time):
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_p, [str(p) for p in all_p])
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
