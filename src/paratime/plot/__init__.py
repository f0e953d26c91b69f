"""Matplotlib figures (Agg backend)."""

from ._bench import plot_memory as plot_memory, plot_speedup as plot_speedup
