"""paratime.dsr.metrics on cases with known answers."""

import time

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime.data as D
from paratime.dsr import metrics as M

LORENZ_LAMBDA = 0.9056  # largest Lyapunov exponent of Lorenz-63 (10, 28, 8/3)


@pytest.fixture(scope="module")
def lorenz():
    return D.lorenz63(20_000, standardise=True, key=0)


# --------------------------------------------------------------------------- D_stsp


@settings(max_examples=15, deadline=None)
@given(T=st.integers(20, 300), d=st.integers(1, 7), seed=st.integers(0, 100))
def test_identical_trajectories_give_zero(T, d, seed):
    x = np.random.default_rng(seed).normal(size=(T, d))
    assert M.state_space_divergence(x, x) == 0.0
    assert M.power_spectrum_distance(x, x) == 0.0


def test_histogram_kl_analytic():
    # One lattice point per bin (the grid spans min/max +- 0.1 std: 30 bins, one point each).
    lattice = np.arange(30.0)
    true = np.repeat(lattice, 100)[:, None]  # p uniform: 1/30 per bin
    gen = np.concatenate([np.repeat(lattice[:15], 100), np.repeat(lattice[15:], 300)])[:, None]
    expect = 0.5 * np.log(4.0 / 3.0)  # q = 1/60 on half the bins, 3/60 on the other half
    assert M.state_space_divergence(true, gen) == pytest.approx(expect, rel=1e-4)
    # Generated points outside the grid (or non-finite) are dropped before normalising.
    outside = np.concatenate([gen, [[-50.0], [80.0], [np.nan]]])
    assert M.state_space_divergence(true, outside) == pytest.approx(expect, rel=1e-4)


@pytest.mark.parametrize("d, bins", [(2, 10), (3, 7)])
def test_sparse_histogram_matches_dense(d, bins):
    rng = np.random.default_rng(d)
    xt = rng.normal(size=(2_000, d))
    xg = 1.3 * rng.normal(size=(1_500, d)) + 0.2  # some points fall outside the grid
    alpha = 1e-3
    std = xt.std(axis=0)
    edges = [
        np.linspace(a - 0.1 * s, b + 0.1 * s, bins + 1)
        for a, b, s in zip(xt.min(0), xt.max(0), std)
    ]
    ht = np.histogramdd(xt, bins=edges)[0].ravel()
    hg = np.histogramdd(xg, bins=edges)[0].ravel()
    p = (ht + alpha) / (ht.sum() + alpha * ht.size)
    q = (hg + alpha) / (hg.sum() + alpha * hg.size)
    dense = float(np.sum(p * np.log(p / q)))
    sparse = M.state_space_divergence(xt, xg, bins=bins, alpha=alpha)
    assert sparse == pytest.approx(dense, rel=1e-9)


def test_disjoint_distributions_give_large_divergence(lorenz):
    far = lorenz + 3.0
    assert M.state_space_divergence(lorenz, far) > 5.0
    assert M.state_space_divergence(lorenz, far, method="gmm") > 5.0
    assert M.state_space_divergence(lorenz, lorenz + 100.0) == np.inf
    near = D.lorenz63(20_000, standardise=True, key=1)  # the same attractor, another orbit
    assert M.state_space_divergence(lorenz, near) < 0.5
    assert M.state_space_divergence(lorenz, near, method="gmm") < 0.05


def test_gmm_is_the_default_from_six_dimensions():
    x = D.lorenz96(3_000, n=6, standardise=True)
    y = D.lorenz96(3_000, n=6, standardise=True, key=5)
    gmm = M.state_space_divergence(x, y)
    assert gmm == M.state_space_divergence(x, y, method="gmm")
    assert gmm != M.state_space_divergence(x, y, method="histogram")
    assert 0.0 <= gmm < 0.2
    assert M.state_space_divergence(x, 0.3 * y) > 3 * gmm


def test_state_space_divergence_errors():
    with pytest.raises(ValueError, match="x_true has 3 dimensions but x_gen has 2"):
        M.state_space_divergence(np.ones((10, 3)), np.ones((10, 2)))
    with pytest.raises(ValueError, match="x_true contains NaN"):
        M.state_space_divergence(np.full((10, 2), np.nan), np.ones((10, 2)))
    with pytest.raises(ValueError, match="method"):
        M.state_space_divergence(np.ones((10, 2)), np.ones((10, 2)), method="kde")


# --------------------------------------------------------------------------- D_H


def _sines(T, *freq_bins):
    t = np.arange(T)
    return sum(np.sin(2 * np.pi * k * t / T + k) for k in freq_bins)[:, None]


def test_power_spectrum_distance_analytic():
    T = 8192
    a, b = _sines(T, 500), _sines(T, 1500)
    cos = np.cos(2 * np.pi * 500 * np.arange(T) / T)[:, None]
    assert M.power_spectrum_distance(a, cos) == pytest.approx(0.0, abs=1e-6)  # phase-blind
    assert M.power_spectrum_distance(a, b) == pytest.approx(1.0, abs=1e-6)  # disjoint
    # Equal power at two frequencies vs one: sum sqrt(p q) = sqrt(1/2).
    expect = np.sqrt(1.0 - np.sqrt(0.5))
    assert M.power_spectrum_distance(a, _sines(T, 500, 1500)) == pytest.approx(expect, 1e-6)
    both = M.power_spectrum_distance(np.hstack([a, a]), np.hstack([a, b]), per_dimension=True)
    np.testing.assert_allclose(both, [0.0, 1.0], atol=1e-6)


def test_power_spectrum_distance_on_lorenz(lorenz):
    other = D.lorenz63(20_000, standardise=True, key=1)
    noise = np.random.default_rng(0).normal(size=lorenz.shape)
    assert M.power_spectrum_distance(lorenz, other) < 0.15
    assert M.power_spectrum_distance(lorenz, noise) > 0.6
    fixed_point = np.ones_like(lorenz)
    assert M.power_spectrum_distance(lorenz, fixed_point) == 1.0
    diverged = lorenz.copy()
    diverged[100:, 1] = np.nan
    h = M.power_spectrum_distance(lorenz, diverged, per_dimension=True)
    assert h[0] == pytest.approx(0.0, abs=1e-7) and h[1] == 1.0
    with pytest.raises(ValueError, match="same shape"):
        M.power_spectrum_distance(lorenz, lorenz[:-1])


# --------------------------------------------------------------------------- PE(n)


def test_prediction_error_analytic():
    a, b, T, n = 0.99, 0.98, 300, 7
    x = (a ** np.arange(T) * 2.0)[:, None]
    predict = M.predictor_from_step(lambda z: b * z)
    pe = M.prediction_error(predict, x, n, num_starts=10_000)
    expect = (b**n - a**n) ** 2 * np.mean(x[: T - n, 0] ** 2)
    assert pe == pytest.approx(expect, rel=1e-10)
    curve = M.prediction_error(predict, x, n, all_steps=True, num_starts=10_000)
    assert curve.shape == (n,) and curve[-1] == pytest.approx(pe)
    assert np.all(np.diff(curve) > 0)
    exact = M.predictor_from_step(lambda z: a * z)
    assert M.prediction_error(exact, x, n) == pytest.approx(0.0, abs=1e-20)


def test_prediction_error_context_windows():
    x = np.arange(100.0)[:, None]
    seen = {}

    def predict(windows, n):
        seen["shape"] = windows.shape
        # Continue the linear trend estimated from the window: exact for a ramp.
        slope = windows[:, -1] - windows[:, 0]
        return windows[:, -1:, :] + slope[:, None, :] / 4 * jnp.arange(1, n + 1)[None, :, None]

    assert M.prediction_error(predict, x, 5, context=4, num_starts=20) == pytest.approx(0.0)
    assert seen["shape"] == (20, 5, 1)
    with pytest.raises(ValueError, match=r"predict must return shape \(B, n, d\)"):
        M.prediction_error(lambda w, n: w, x, 5, context=2)
    with pytest.raises(ValueError, match="T > context \\+ n"):
        M.prediction_error(predict, x, 90, context=10)


def test_prediction_error_of_the_true_lorenz_map():
    x = D.lorenz63(2_000, key=2)  # not standardised: the RK4 map is the exact model
    step = lambda z: D.rk4_step(D.lorenz63_vector_field, z, 0.01)
    pe = M.prediction_error(M.predictor_from_step(step), x, 20, num_starts=200)
    assert pe < 1e-6 * x.var()  # only float32 rounding of the stored data
    wrong = lambda z: D.rk4_step(lambda v: D.lorenz63_vector_field(v, rho=26.0), z, 0.01)
    assert M.prediction_error(M.predictor_from_step(wrong), x, 20) > 1e3 * pe


# --------------------------------------------------------------------------- Lyapunov


def test_lyapunov_spectrum_of_linear_maps():
    P = jnp.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.3], [0.4, 0.0, 1.0]])
    A = P @ jnp.diag(jnp.array([1.2, 0.5, -0.3])) @ jnp.linalg.inv(P)
    expect = np.log([1.2, 0.5, 0.3])
    lam = M.lyapunov_spectrum(lambda z: A @ z, jnp.ones(3), 2_000, transient=100)
    np.testing.assert_allclose(lam, expect, atol=5e-3)
    lam_j = M.lyapunov_spectrum(lambda z: A @ z, jnp.ones(3), 2_000, jacobian=lambda z: A)
    np.testing.assert_allclose(lam_j, expect, atol=5e-3)
    assert M.max_lyapunov_exponent(lambda z: A @ z, jnp.ones(3), 2_000) == pytest.approx(
        np.log(1.2), abs=5e-3
    )
    # A rotation scaled by 0.9: a complex pair, both exponents log 0.9; PyTree state.
    c, s = np.cos(0.7), np.sin(0.7)
    rot = lambda z: {"u": 0.9 * (c * z["u"] - s * z["v"]), "v": 0.9 * (s * z["u"] + c * z["v"])}
    lam = M.lyapunov_spectrum(rot, {"u": 1.0, "v": 0.0}, 2_000, dt=0.5)
    np.testing.assert_allclose(lam, np.log(0.9) / 0.5, atol=5e-3)


def test_lyapunov_spectrum_of_lorenz():
    step = lambda z: D.rk4_step(D.lorenz63_vector_field, z, 0.01)
    lam = M.lyapunov_spectrum(step, jnp.array([1.0, 1.0, 1.0]), 10_000, dt=0.01)
    assert lam[0] == pytest.approx(LORENZ_LAMBDA, abs=0.1)
    assert abs(lam[1]) < 0.05
    # The exponents sum to the (constant) divergence of the flow, -(sigma + 1 + beta).
    assert lam.sum() == pytest.approx(-(10.0 + 1.0 + 8.0 / 3.0), abs=2e-3)


def test_data_lyapunov_exponent(lorenz):
    lam, curve = M.data_lyapunov_exponent(lorenz, 0.01, return_curve=True)
    assert lam == pytest.approx(LORENZ_LAMBDA, rel=0.2)
    assert curve[-1] > curve[0] + 1.5  # the log separation grows
    t = np.arange(5_000)
    spiral = np.stack(
        [np.exp(-0.001 * t) * np.cos(0.05 * t), np.exp(-0.001 * t) * np.sin(0.05 * t)]
    )
    # A decaying spiral is linear: every pair separation shrinks exactly by e^-0.001 a step.
    assert M.data_lyapunov_exponent(spiral.T, 1.0) == pytest.approx(-0.001, rel=1e-6)
    with pytest.raises(ValueError, match="too short"):
        M.data_lyapunov_exponent(lorenz[:100], 0.01, horizon=50, theiler=40)
    with pytest.raises(ValueError, match="NaN"):
        M.data_lyapunov_exponent(np.full((50, 1), np.nan))


def test_metrics_are_fast_for_long_series():
    x = D.lorenz63(100_000, standardise=True, key=7)
    y = D.lorenz63(100_000, standardise=True, key=8)
    start = time.perf_counter()
    M.state_space_divergence(x, y)
    M.power_spectrum_distance(x, y)
    assert time.perf_counter() - start < 10.0  # well under a second when the CPU is free
