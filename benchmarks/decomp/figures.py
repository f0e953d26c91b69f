"""Figures for `docs/decomp.md`, drawn from the JSON that
`python -m benchmarks.decomp evidence` writes."""

from pathlib import Path
from typing import Any

import numpy as np


def plot_evidence(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Draw `decomp_<task>_curves.png`, `decomp_<task>_time.png` and
    `decomp_<task>_travel.png` into `out_dir`; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task, methods = result["task"], result["methods"]
    written = []

    fig, (ax_loss, ax_gap) = plt.subplots(1, 2, figsize=(11, 4))
    for name, m in methods.items():
        c = m["curve"]
        style = "k-" if name == "bptt" else ("--" if name.startswith("shooting") else "-")
        ax_loss.plot(c["grad_steps"], c["loss"], style, label=name, lw=1.2)
        for key, ls in (("mismatch", "-"), ("gap", "--")):
            if key in c:
                ax_gap.plot(c["grad_steps"], c[key], ls, label=f"{name} ({key})", lw=1.2)
    ax_loss.set(yscale="log", xlabel="gradient steps", ylabel="full-sequence loss (MSE)")
    ax_loss.set_title(f"{task}: full-sequence loss at equal gradient steps")
    ax_gap.set(yscale="log", xlabel="gradient steps", ylabel="RMS state disagreement")
    ax_gap.set_title("overlap mismatch / continuity gap")
    ax_loss.legend(fontsize=7)
    ax_gap.legend(fontsize=7)
    fig.tight_layout()
    written.append(out_dir / f"decomp_{task}_curves.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(methods)
    times = [1e3 * methods[n]["wall_time_per_grad_step_s"] for n in names]
    ax.barh(names, times, color=["k" if n == "bptt" else "C0" for n in names])
    ax.set(xlabel="ms per gradient step (CPU, best of interleaved rounds)")
    ax.set_title(f"{task}: wall time per gradient step")
    fig.tight_layout()
    written.append(out_dir / f"decomp_{task}_time.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    travel = result.get("information_travel", {})
    if travel:
        fig, axes = plt.subplots(1, len(travel), figsize=(5 * len(travel), 3.5), squeeze=False)
        for ax, (name, reach) in zip(axes[0], travel.items()):
            reach = np.asarray(reach)
            with np.errstate(divide="ignore"):
                img = np.where(reach > 0, np.log10(np.where(reach > 0, reach, 1.0)), np.nan)
            steps, k = reach.shape
            extent = (0.5, steps + 0.5, -0.5, k - 0.5)
            im = ax.imshow(img.T, origin="lower", aspect="auto", cmap="viridis", extent=extent)
            every = int(name.removeprefix("freeze"))
            n = np.arange(1, steps + 1)
            ax.step(n, n // every + 0.5, "r--", where="mid", lw=1, label="predicted front")
            ax.set(xlabel="optimiser steps", ylabel="segment k", ylim=(-0.5, k - 0.5))
            ax.legend(fontsize=7, loc="upper left")
            ax.set_title(f"log10 ‖∂s_k/∂x_0‖, {name} (blank: exactly 0)", fontsize=9)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        written.append(out_dir / f"decomp_{task}_travel.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written
