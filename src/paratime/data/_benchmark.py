"""The Lorenz-63 reconstruction benchmark, generated inside the package and cached on disk.

The benchmark of the dynamical-systems-reconstruction literature (e.g. generalized teacher
forcing, Hess et al., ICML 2023) is two Lorenz-63 trajectories (σ, ρ, β = 10, 28, 8/3)
sampled every dt = 0.01: 100 000 × 3 samples each, every column standardised; the training
part carries 5 % Gaussian observation noise, the test part is a separate noise-free
trajectory. Both are generated here from fixed initial points and a fixed seed, always in
float64 (whatever `jax_enable_x64` says), and written once to the user's cache folder.
"""

import contextlib
import os
from pathlib import Path

import jax
import numpy as np
from jaxtyping import Float

from ._systems import lorenz63

LENGTH = 100_000
DT = 0.01
NOISE = 0.05
BURN_IN = 1000
# Each part starts from its own fixed point (x, y, z), far from the other's, so the two
# trajectories are unrelated from the first sample; the seed draws the training noise.
# Changing anything in the generation must change VERSION, so stale cache files are not read.
INITIAL = {"train": (-8.0, 7.0, 27.0), "test": (6.0, -2.0, 20.0)}
SEED = 63
VERSION = 1


def cache_dir() -> Path:
    """The folder of paratime's cached data: `$PARATIME_CACHE` if set, else
    `$XDG_CACHE_HOME/paratime`, else `~/.cache/paratime`."""
    own = os.environ.get("PARATIME_CACHE")
    if own:
        return Path(own)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "paratime"


def generate_lorenz63_benchmark(part: str) -> Float[np.ndarray, "100000 3"]:
    """Generate one part (`"train"` or `"test"`) of the Lorenz-63 benchmark, without the cache.

    RK4 with step dt = 0.01 from the part's fixed initial point, after a burn-in of 1 000
    samples (so the series starts on the attractor); float32 `(100000, 3)`.
    """
    if part not in INITIAL:
        raise ValueError(f"`part` must be 'train' or 'test'; got {part!r}.")
    with jax.enable_x64(True):
        return lorenz63(
            LENGTH,
            dt=DT,
            burn_in=BURN_IN,
            standardise=True,
            noise=NOISE if part == "train" else 0.0,
            x0=INITIAL[part],
            key=SEED,
        )


def _read(path: Path) -> np.ndarray | None:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    ok = x.shape == (LENGTH, 3) and x.dtype == np.float32 and bool(np.isfinite(x).all())
    return x if ok else None


def lorenz63_benchmark(part: str) -> Float[np.ndarray, "100000 3"]:
    """One part of the Lorenz-63 benchmark, from the cache or generated (and then cached).

    The file is `cache_dir()/lorenz63-vVERSION-PART.npy`, written atomically; an unreadable
    or malformed file is regenerated, and a cache folder that cannot be written is skipped.
    """
    if part not in INITIAL:
        raise ValueError(f"`part` must be 'train' or 'test'; got {part!r}.")
    path = cache_dir() / f"lorenz63-v{VERSION}-{part}.npy"
    cached = _read(path) if path.is_file() else None
    if cached is not None:
        return cached
    x = generate_lorenz63_benchmark(part)
    from ..train._atomic import atomic_open

    with contextlib.suppress(OSError):  # a read-only home: use the data, skip the cache
        with atomic_open(path) as f:
            np.save(f, x, allow_pickle=False)
    return x
