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


@pytest.fixture(scope="module")
def lorenz_files(tmp_path_factory):
    """A folder with `train.npy` (900 standardised Lorenz-63 steps, float32) and `test.npy`
    (400 other steps) for short `paratime dsr` runs."""
    import numpy as np

    import paratime.data

    folder = tmp_path_factory.mktemp("lorenz")
    series = paratime.data.lorenz63(900, standardise=True, key=0)
    np.save(folder / "train.npy", np.asarray(series, np.float32))
    np.save(folder / "test.npy", np.asarray(paratime.data.lorenz63(400, standardise=True, key=1)))
    return folder
