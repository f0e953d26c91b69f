"""Shared plumbing of the generators: keys, argument checks, standardising and noise."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray


def as_key(key: PRNGKeyArray | int | None) -> PRNGKeyArray:
    """`None` → the fixed key 0 (reproducible by default); an int → `jax.random.key(int)`."""
    if key is None:
        return jax.random.key(0)
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array | np.ndarray):
        typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()
        raw = key.dtype == np.uint32 and key.shape == (2,)
        if typed or raw:
            return jnp.asarray(key)
    raise TypeError(f"`key` must be a PRNG key, an int seed or None; got {key!r}.")


def check_length(T: int, name: str = "T") -> None:
    """Raise `ValueError` unless `T` is a positive int."""
    if not isinstance(T, (int, np.integer)) or isinstance(T, bool) or T < 1:
        raise ValueError(f"{name} must be a positive int (number of time steps); got {T!r}.")


def finish(xs: ArrayLike, *, standardise: bool, noise: float, key: PRNGKeyArray) -> np.ndarray:
    """Optionally z-score each column, then add Gaussian observation noise, as float32 NumPy.

    The noise has standard deviation `noise` times each column's standard deviation (after
    standardising, that is simply `noise`), as in the "5% observation noise" benchmarks.
    """
    if isinstance(noise, bool) or not isinstance(noise, int | float | np.number):
        raise TypeError(f"noise must be a number >= 0; got {noise!r}.")
    if not noise >= 0 or not np.isfinite(noise):
        raise ValueError(
            f"noise must be >= 0 and finite (relative to each column's std); got {noise}."
        )
    x = np.asarray(xs, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(
            "the integration produced NaN/Inf; use a smaller dt, more substeps or another x0."
        )
    std = x.std(axis=0)
    if standardise:
        x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
        std = np.ones_like(std)
    if noise > 0:
        eps = np.asarray(jax.random.normal(key, x.shape), dtype=np.float64)
        x = x + noise * std * eps
    return x.astype(np.float32)
