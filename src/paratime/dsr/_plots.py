"""Figures of a DSR run: attractors, power spectra, training curves.

Each function returns a `matplotlib.figure.Figure` made without pyplot (no global state, no
backend switch); the caller saves it (`fig.savefig(path)`). `save_run_plots` does that for a
run directory.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _figure(**kwargs: Any):
    from .._extras import require

    return require("matplotlib.figure", "Plotting").Figure(**kwargs)


def plot_attractor(x_true: np.ndarray, x_gen: np.ndarray, *, title: str = ""):
    """Generated vs true attractor: a 3-D plot of the first three dimensions (or 2-D / 1-D)."""
    d = min(x_true.shape[1], 3)
    fig = _figure(figsize=(10, 4.5))
    for i, (x, label) in enumerate(((x_true, "data"), (x_gen, "model"))):
        if d == 3:
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            ax.plot(x[:, 0], x[:, 1], x[:, 2], lw=0.3)
        else:
            ax = fig.add_subplot(1, 2, i + 1)
            ax.plot(x[:, 0], x[:, 1] if d == 2 else np.arange(len(x)), lw=0.3)
        ax.set_title(f"{label} {title}".strip())
    fig.tight_layout()
    return fig


def plot_spectra(x_true: np.ndarray, x_gen: np.ndarray):
    """Smoothed, normalised power spectra of each dimension, data vs model (as D_H sees them)."""
    n = min(len(x_true), len(x_gen))
    from .metrics import power_spectra

    st, sg = power_spectra(x_true[:n]), power_spectra(x_gen[:n])
    d = x_true.shape[1]
    fig = _figure(figsize=(3.2 * d, 3))
    axes = fig.subplots(1, d, squeeze=False)
    cut = max(10, len(st) // 20)
    for j, ax in enumerate(axes[0]):
        ax.semilogy(st[:cut, j], label="data")
        ax.semilogy(sg[:cut, j], label="model")
        ax.set_title(f"dim {j}")
        ax.set_xlabel("frequency bin")
    axes[0, 0].legend()
    fig.tight_layout()
    return fig


def plot_curves(
    history: Sequence[dict[str, Any]],
    keys: Sequence[str] = ("loss", "alpha", "newton_steps"),
):
    """Training curves (one panel per logged metric in `keys`) from a metrics log; `None`
    when the log has none of them."""
    keys = [k for k in keys if history and k in history[0]]
    if not keys:
        return None
    fig = _figure(figsize=(3.6 * len(keys), 3))
    axes = fig.subplots(1, len(keys), squeeze=False)
    steps = [r["step"] for r in history]
    for k, ax in zip(keys, axes[0]):
        ax.plot(steps, [r[k] for r in history])
        ax.set_xlabel("step")
        ax.set_title(k)
        if k == "loss":
            ax.set_yscale("log")
    fig.tight_layout()
    return fig


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
    figures = [
        plot_attractor(x_true[:n], x_gen[:n]),
        plot_spectra(x_true, x_gen),
        plot_curves(history),
    ]
    written = []
    for fig, path in zip(figures, paths):
        if fig is not None:
            fig.savefig(path, dpi=110)
            written.append(path)
    return written
