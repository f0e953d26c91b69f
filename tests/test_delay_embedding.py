"""Delay embedding: the vectors, the lag from mutual information, the dimension from FNN."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime.data as data


@settings(max_examples=30, deadline=None)
@given(T=st.integers(10, 60), lag=st.integers(1, 4), dim=st.integers(1, 4))
def test_delay_vectors_are_the_delayed_values(T, lag, dim):
    x = np.arange(T, dtype=np.float32)
    if T - (dim - 1) * lag < 2:
        with pytest.raises(ValueError, match="too short"):
            data.delay_embed(x, lag, dim)
        return
    y = data.delay_embed(x[:, None], lag, dim)
    assert y.shape == (T - (dim - 1) * lag, dim) and y.dtype == np.float32
    t = np.arange(y.shape[0]) + (dim - 1) * lag  # the time of each row
    for k in range(dim):
        np.testing.assert_array_equal(y[:, k], x[t - k * lag])


def test_bad_arguments_are_named():
    x = np.sin(np.arange(100.0))
    with pytest.raises(ValueError, match="`lag`"):
        data.delay_embed(x, 0, 2)
    with pytest.raises(ValueError, match="`dim`"):
        data.delay_embed(x, 1, 1.5)
    with pytest.raises(ValueError, match="scalar series"):
        data.delay_embed(np.ones((100, 2)), 1, 2)
    with pytest.raises(ValueError, match="NaN"):
        data.delay_embed(np.r_[x, np.nan], 1, 2)


def test_mutual_information_of_a_sine_is_lowest_at_a_quarter_period():
    period = 40
    noise = 0.05 * np.random.default_rng(0).standard_normal(4000)
    x = np.sin(2 * np.pi * np.arange(4000) / period) + noise
    mi = data.mutual_information(x, 30)
    assert mi[0] == mi.max()
    # x_t and x_{t+period/4} are (sin, cos): uncorrelated, the first minimum of I.
    assert abs(data.choose_lag(x, max_lag=30) - period // 4) <= 1


def test_lorenz_x_embeds_in_three_dimensions():
    x = data.lorenz63(20_000, key=0)[:, 0]
    lag = data.choose_lag(x)
    assert 10 <= lag <= 20  # the usual τ ≈ 0.16 time units at dt = 0.01
    fnn = data.false_nearest_neighbours(x, lag, 5)
    assert fnn[0] > 0.5 and fnn[2] < 0.01  # one dimension folds the attractor, three unfold it
    assert data.choose_dimension(x, lag, max_dim=5) == 3
    y, lag2, dim = data.embed(x)
    assert (lag2, dim) == (lag, 3) and y.shape == (x.size - 2 * lag, 3)


def test_noise_has_no_low_dimensional_embedding():
    x = np.random.default_rng(0).standard_normal(3000)
    fnn = data.false_nearest_neighbours(x, 1, 4)
    assert np.all(fnn > 0.1)  # unlike a deterministic series, noise never unfolds
