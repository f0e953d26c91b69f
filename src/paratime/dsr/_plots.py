"""Figures of a DSR run: attractors, power spectra, training curves (matplotlib, Agg)."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_attractor(
    x_true: np.ndarray, x_gen: np.ndarray, path: str | os.PathLike, *, title: str = ""
) -> None:
    """Generated vs true attractor: a 3-D plot of the first three dimensions (or 2-D / 1-D)."""
    plt = _pyplot()
    d = min(x_true.shape[1], 3)
    fig = plt.figure(figsize=(10, 4.5))
    for i, (x, label) in enumerate(((x_true, "data"), (x_gen, "model"))):
        if d == 3:
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            ax.plot(x[:, 0], x[:, 1], x[:, 2], lw=0.3)
        else:
            ax = fig.add_subplot(1, 2, i + 1)
            ax.plot(x[:, 0], x[:, 1] if d == 2 else np.arange(len(x)), lw=0.3)
        ax.set_title(f"{label} {title}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_spectra(x_true: np.ndarray, x_gen: np.ndarray, path: str | os.PathLike) -> None:
    """Smoothed, normalised power spectra of each dimension, data vs model (as D_H sees them)."""
    plt = _pyplot()
    n = min(len(x_true), len(x_gen))
    from .metrics import power_spectra

    st, sg = power_spectra(x_true[:n]), power_spectra(x_gen[:n])
    d = x_true.shape[1]
    fig, axes = plt.subplots(1, d, figsize=(3.2 * d, 3), squeeze=False)
    cut = max(10, len(st) // 20)
    for j, ax in enumerate(axes[0]):
        ax.semilogy(st[:cut, j], label="data")
        ax.semilogy(sg[:cut, j], label="model")
        ax.set_title(f"dim {j}")
        ax.set_xlabel("frequency bin")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(
    history: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    keys: Sequence[str] = ("loss", "alpha", "newton_steps"),
) -> None:
    """Training curves (one panel per logged metric in `keys`) from a metrics log."""
    plt = _pyplot()
    keys = [k for k in keys if history and k in history[0]]
    if not keys:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3), squeeze=False)
    steps = [r["step"] for r in history]
    for k, ax in zip(keys, axes[0]):
        ax.plot(steps, [r[k] for r in history])
        ax.set_xlabel("step")
        ax.set_title(k)
        if k == "loss":
            ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_run_plots(
    out_dir: str | os.PathLike,
    history: Sequence[dict[str, Any]],
    x_true: np.ndarray,
    x_gen: np.ndarray,
) -> list[Path]:
    """Write `attractor.png`, `spectra.png` and `curves.png` into `out_dir`; return the paths."""
    out = Path(out_dir)
    paths = [out / "attractor.png", out / "spectra.png", out / "curves.png"]
    n = min(len(x_true), 20_000)
    plot_attractor(x_true[:n], x_gen[:n], paths[0])
    plot_spectra(x_true, x_gen, paths[1])
    plot_curves(history, paths[2])
    return [p for p in paths if p.exists()]
