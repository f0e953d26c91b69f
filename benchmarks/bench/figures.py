"""Figures of benchmark results: speed-up over Sequential and memory, against T."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

STYLE = {
    "Sequential": ("k", "o"),
    "DEER": ("C0", "s"),
    "QuasiDEER": ("C1", "^"),
    "ELK": ("C2", "v"),
    "QuasiELK": ("C3", "<"),
    "Auto": ("C4", "*"),
    "DEER-chunked": ("C5", "P"),
    "DEER+warm": ("C6", "X"),
    "QuasiDEER+warm": ("C7", "d"),
    "lax.scan": ("0.5", "."),
    "naive-DEER": ("C8", "x"),
    "cuDNN": ("C9", "D"),
    "torch-CPU": ("k", "D"),
}


def _ok(records: Sequence[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r.get("status") == "ok"
        and "experiment" not in r
        and all(r.get(k) == v for k, v in match.items())
    ]


def _legend(fig, axes) -> None:
    """One legend for all panels (each panel may show different solvers)."""
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    fig.legend(list(seen.values()), list(seen), fontsize=7, loc="center right")
    fig.subplots_adjust(right=0.88)


def _panels(Ns: Sequence[int]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(Ns), figsize=(4 * len(Ns), 3.4), squeeze=False)
    return plt, fig, axes[0]


def _finish(plt, fig, axes, title: str, path: str | Path) -> Path:
    """Legend, title and layout, then save the figure to `path` and close it."""
    _legend(fig, axes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_speedup(
    records: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    cell: str = "GRU",
    batch: int = 1,
    workload: str = "forward",
) -> Path | None:
    """Speed-up over Sequential (median time ratio) against T, one panel per N.

    **Arguments:**

    - `records`: benchmark records (`paratime.bench.load_results`).
    - `path`: the PNG to write.
    - `cell`, `batch`, `workload`: which slice of the grid to draw.

    **Returns:**

    The path written, or None when the slice has no measured points.
    """
    rows = _ok(records, cell=cell, batch=batch, workload=workload)
    seq = {(r["N"], r["T"]): r["median_s"] for r in rows if r["solver"] == "Sequential"}
    Ns = sorted({n for n, _ in seq})
    if not Ns:
        return None
    plt, fig, axes = _panels(Ns)
    for ax, N in zip(axes, Ns):
        for solver in STYLE:
            pts = sorted(  # against Sequential of the same run where the record says it
                (r["T"], (r.get("sequential_median_s") or seq[(N, r["T"])]) / r["median_s"])
                for r in rows
                if r["solver"] == solver and r["N"] == N and (N, r["T"]) in seq
            )
            if pts and solver != "Sequential":
                color, marker = STYLE[solver]
                ax.plot(*zip(*pts), color=color, marker=marker, label=solver)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set(xscale="log", yscale="log", xlabel="T", title=f"N = {N}")
    axes[0].set_ylabel("speed-up over Sequential")
    return _finish(plt, fig, axes, f"{cell}, batch {batch}, {workload} ({rows[0]['device']})", path)


def plot_memory(
    records: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    cell: str = "GRU",
    batch: int = 1,
    workload: str = "forward",
) -> Path | None:
    """Working memory (XLA's compiled temporaries + outputs, or the device peak) against T,
    one panel per N. Arguments and return value as `plot_speedup`."""
    rows = [
        r for r in _ok(records, cell=cell, batch=batch, workload=workload) if r.get("working_bytes")
    ]
    Ns = sorted({r["N"] for r in rows})
    if not Ns:
        return None
    plt, fig, axes = _panels(Ns)
    for ax, N in zip(axes, Ns):
        for solver, (color, marker) in STYLE.items():
            pts = sorted(
                (r["T"], r["working_bytes"]) for r in rows if r["solver"] == solver and r["N"] == N
            )
            if pts:
                ax.plot(*zip(*pts), color=color, marker=marker, label=solver)
        ax.set(xscale="log", yscale="log", xlabel="T", title=f"N = {N}")
    axes[0].set_ylabel("working memory (bytes)")
    return _finish(plt, fig, axes, f"{cell}, batch {batch}, {workload} ({rows[0]['device']})", path)
