"""Test configuration: float64, four CPU devices (for sharding tests), headless plots."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_num_cpu_devices", 4)


@pytest.fixture
def getkey():
    """A fresh PRNG key on every call, deterministic per test."""
    counter = iter(range(10**9))
    base = jax.random.key(0)
    return lambda: jax.random.fold_in(base, next(counter))
