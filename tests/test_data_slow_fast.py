"""The slow–fast Lorenz-63 generator and its named datasets (`slow-fast`, `slow-fast-test`)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from paratime.data import (
    DATASETS,
    load_series,
    slow_fast_lorenz,
    slow_fast_lorenz_vector_field,
)


@given(observed=st.sampled_from([3, 4, 5]), T=st.integers(1, 50))
@settings(max_examples=10, deadline=None)
def test_shape_and_dtype(observed, T):
    x = slow_fast_lorenz(T, observed=observed, burn_in=10)
    assert x.shape == (T, observed)
    assert x.dtype == np.float32
    assert np.isfinite(x).all()


def test_deterministic_and_keyed():
    a = slow_fast_lorenz(500, key=3)
    np.testing.assert_array_equal(a, slow_fast_lorenz(500, key=3))
    assert not np.allclose(a[:, :3], slow_fast_lorenz(500, key=4)[:, :3])
    # The drive does not depend on the key: it starts at (u, v) = (1, 0) in every run.
    np.testing.assert_allclose(a[:, 3], slow_fast_lorenz(500, key=4)[:, 3], atol=1e-6)


def test_drive_is_the_slow_cosine():
    period, burn_in, T = 1000, 100, 3000
    x = slow_fast_lorenz(T, period=period, burn_in=burn_in, observed=5)
    t = np.arange(burn_in + 1, burn_in + T + 1)
    phase = 2 * math.pi * t / period
    np.testing.assert_allclose(x[:, 3], np.cos(phase), atol=1e-4)
    np.testing.assert_allclose(x[:, 4], -np.sin(phase), atol=1e-4)


def test_vector_field_reduces_to_lorenz63_at_u_zero():
    s = np.array([1.0, 2.0, 3.0, 0.0, 1.0])
    f = np.asarray(slow_fast_lorenz_vector_field(s, 28.0, 10.0, 0.5))
    np.testing.assert_allclose(f[:3], [10.0, 1.0 * 25.0 - 2.0, 2.0 - 8.0])
    np.testing.assert_allclose(f[3:], [0.5, 0.0])


def test_bursts_and_quiescence_follow_the_drive():
    # Over two slow periods the trajectory is chaotic where ρ is high and at rest where it
    # is low: the activity (std of x in windows of 200 samples) has both and follows u.
    x = slow_fast_lorenz(20_000, period=10_000)
    w = x.reshape(100, 200, 4)
    act, u = w[:, :, 0].std(axis=1), w[:, :, 3].mean(axis=1)
    assert (act < 0.5).mean() > 0.2
    assert (act > 3.0).mean() > 0.2
    assert act[u > 0.5].mean() > 3 * act[u < -0.5].mean()


def test_standardise_and_noise():
    clean = slow_fast_lorenz(5000, standardise=True)
    np.testing.assert_allclose(clean.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(clean.std(axis=0), 1.0, atol=1e-4)
    noisy = slow_fast_lorenz(5000, standardise=True, noise=0.05)
    assert 0.03 < float((noisy - clean).std()) < 0.07


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"period": 1}, "period"),
        ({"period": 10.5}, "period"),
        ({"observed": 2}, "observed"),
        ({"observed": 6}, "observed"),
        ({"dt": 0.0}, "dt"),
        ({"rho_amplitude": math.nan}, "rho_amplitude"),
        ({"x0": [1.0, 2.0, 3.0]}, "x0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        slow_fast_lorenz(10, **kwargs)


def test_named_datasets():
    assert {"slow-fast", "slow-fast-test"} <= set(DATASETS)
    train, test = load_series("slow-fast"), load_series("slow-fast-test")
    assert train.shape == test.shape == (100_000, 4)
    assert np.isfinite(train).all() and np.isfinite(test).all()
    # One trajectory standardised as a whole: each half is close to zero mean, unit std.
    np.testing.assert_allclose(test.std(axis=0), 1.0, atol=0.1)
    # The test part is noise-free (its drive is an exact cosine); the training part is not.
    u = test[:, 3]
    assert np.abs(np.diff(u)).max() < 2 * math.pi / 10_000 * math.sqrt(2) * 1.01
    assert np.abs(np.diff(train[:, 3])).max() > 0.05
    # The copies are independent of the cache.
    train[:] = 0
    assert np.abs(load_series("slow-fast")).sum() > 0
