"""Gaussian noise on the training windows (`training_noise`, the GTF code's
gaussian_noise_level): the same windows as without it, plus noise of the std asked for."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime.dsr._train import sample_windows, training_batch
from paratime.dsr._trajectories import window_starts


@pytest.fixture(scope="module")
def series():
    return jnp.asarray(paratime.data.lorenz63(600, standardise=True, key=0), jnp.float64)


@pytest.mark.parametrize("sigma", [0.05, 0.5])
@pytest.mark.parametrize("several", [False, True])
def test_the_windows_are_those_without_noise_plus_noise_of_that_std(series, sigma, several):
    key = jax.random.key(3)
    starts = jnp.asarray(window_starts([300, 300], 50)) if several else None
    clean = training_batch(key, series, starts, 50, 64)
    noisy = training_batch(key, series, starts, 50, 64, sigma)
    if not several:
        np.testing.assert_array_equal(clean, sample_windows(key, series, 50, 64))
    diff = np.asarray(noisy - clean)
    assert diff.shape == (64, 50, 3)
    assert abs(diff.std() - sigma) < 0.03 * sigma  # 9600 draws
    assert abs(diff.mean()) < 0.05 * sigma
    # Independent across windows, time and columns: no two columns share a draw.
    corr = np.corrcoef(diff.reshape(-1, 3).T)
    assert np.abs(corr - np.eye(3)).max() < 0.06


def _fit(series, noise, seed=1):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    settings = dsr.FitSettings(steps=4, seq_len=30, batch_size=4, training_noise=noise)
    key = jax.random.key(seed)
    solver = paratime.Sequential()
    return dsr.fit(model, series, settings, key=key, solver=solver, progress=False)[1]


def test_training_sees_the_noise_and_is_reproducible(series):
    clean, noisy, again = _fit(series, 0.0), _fit(series, 0.3), _fit(series, 0.3)
    assert [r["loss"] for r in noisy] == [r["loss"] for r in again]
    # Noisy targets cannot be predicted: the loss rises by about σ² = 0.09 per step.
    rise = np.array([n["loss"] - c["loss"] for n, c in zip(noisy, clean)])
    assert np.all(rise > 0.03), rise


@pytest.mark.parametrize("bad", [-0.1, float("inf"), True, "x"])
def test_a_bad_value_names_the_setting(bad):
    with pytest.raises(paratime.ConfigError, match="training_noise"):
        dsr.FitSettings(training_noise=bad)
