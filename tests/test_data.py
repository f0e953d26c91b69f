"""paratime.data: generators, loaders, validation."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import solve_ivp

import paratime.data as D

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lorenz63"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared benchmark absent")


# --------------------------------------------------------------------------- integrator


def test_rk4_is_fourth_order():
    # Harmonic oscillator over one period: the error must drop ~16x when dt halves.
    f = lambda x: jnp.stack([x[1], -x[0]])
    errs = []
    for steps in (50, 100):
        xs = D.integrate(f, np.array([1.0, 0.0]), steps, 2 * np.pi / steps)
        errs.append(float(np.abs(np.asarray(xs[-1]) - np.array([1.0, 0.0])).max()))
    assert 12 < errs[0] / errs[1] < 20
    assert errs[1] < 1e-5


@pytest.mark.parametrize(
    "gen, field, dt",
    [
        (D.lorenz63, lambda x: np.asarray(D.lorenz63_vector_field(x)), 0.01),
        (D.rossler, lambda x: np.asarray(D.rossler_vector_field(x)), 0.05),
    ],
)
def test_generators_follow_their_equations(gen, field, dt):
    x0 = np.array([1.0, 2.0, 3.0])
    xs = gen(100, x0=x0, burn_in=0)
    ts = dt * np.arange(1, 101)
    ref = solve_ivp(lambda t, x: field(x), (0, ts[-1]), x0, t_eval=ts, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(xs, ref.y.T, atol=2e-4 * np.abs(ref.y).max())


def test_lorenz63_statistics_and_reproducibility():
    x = D.lorenz63(20_000, key=1)
    assert x.shape == (20_000, 3) and x.dtype == np.float32
    # Long-run statistics of the classic attractor: mean z ~ 23.5, std (7.9, 9.0, 8.6).
    assert abs(x[:, 2].mean() - 23.5) < 1.0
    np.testing.assert_allclose(x.std(axis=0), [7.9, 9.0, 8.6], rtol=0.08)
    np.testing.assert_array_equal(x, D.lorenz63(20_000, key=1))
    assert not np.array_equal(x, D.lorenz63(20_000, key=2))


def test_standardise_and_relative_noise():
    clean = D.lorenz63(5_000, standardise=True, key=3)
    noisy = D.lorenz63(5_000, standardise=True, noise=0.05, key=3)
    np.testing.assert_allclose(clean.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(clean.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose((noisy - clean).std(axis=0), 0.05, rtol=0.1)
    raw = D.rossler(5_000, key=3)
    raw_noisy = D.rossler(5_000, noise=0.1, key=3)
    np.testing.assert_allclose((raw_noisy - raw).std(axis=0), 0.1 * raw.std(axis=0), rtol=0.1)


@needs_shared
def test_lorenz63_generator_matches_shared_benchmark():
    gen = D.lorenz63(20_000, standardise=True, key=4)
    ref = np.load(SHARED / "lorenz63_test.npy")
    for lag in (1, 10, 30):
        a = float(np.mean(gen[:-lag, 0] * gen[lag:, 0]))
        b = float(np.mean(ref[:-lag, 0] * ref[lag:, 0]))
        assert abs(a - b) < 0.03, (lag, a, b)


def test_lorenz96():
    x = D.lorenz96(4_000, n=10)
    assert x.shape == (4_000, 10)
    assert 1.8 < x.mean() < 2.9 and 3.0 < x.std() < 4.2  # F = 8 climatology
    with pytest.raises(ValueError, match="n must be >= 4"):
        D.lorenz96(10, n=3)


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="positive int"):
        D.lorenz63(0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        D.lorenz63(10, x0=[1.0, 2.0])
    with pytest.raises(ValueError, match="dt must be > 0"):
        D.rossler(10, dt=0.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        D.lorenz63(10, noise=-1.0)
    with pytest.raises(ValueError, match="NaN/Inf"):
        D.lorenz63(200, dt=1.0, burn_in=0)


def test_mackey_glass():
    x = D.mackey_glass(2_000)
    assert x.shape == (2_000, 1)
    # tau = 17 attractor: range about [0.42, 1.32], mean about 0.93 (as reservoirpy's).
    assert 0.35 < x.min() < 0.5 and 1.25 < x.max() < 1.4 and 0.88 < x.mean() < 0.98
    # A short delay gives the stable fixed point x* = (beta / gamma - 1) ** (1 / n) = 1.
    fixed = D.mackey_glass(50, tau=1.0, burn_in=300)
    np.testing.assert_allclose(fixed, 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="integer >= 2"):
        D.mackey_glass(10, tau=17.05)


def test_narma10_recursion():
    u, y = D.narma10(500, key=0)
    assert u.shape == y.shape == (500, 1)
    assert 0.0 <= u.min() and u.max() <= 0.5
    u, y = u[:, 0].astype(np.float64), y[:, 0].astype(np.float64)
    t = np.arange(10, 500)
    window = np.stack([y[t - 1 - i] for i in range(10)]).sum(axis=0)
    expect = 0.3 * y[t - 1] + 0.05 * y[t - 1] * window + 1.5 * u[t - 9] * u[t] + 0.1
    np.testing.assert_allclose(y[t], expect, rtol=1e-5)


# --------------------------------------------------------------------------- validation


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(2, 40),
    d=st.integers(1, 4),
    data=st.data(),
)
def test_check_series_names_first_bad_row(T, d, data):
    x = np.zeros((T, d))
    rows = data.draw(st.lists(st.integers(0, T - 1), min_size=1, max_size=3, unique=True))
    col = data.draw(st.integers(0, d - 1))
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    x[rows, col] = bad
    kind = "NaN" if np.isnan(bad) else "Inf"
    with pytest.raises(ValueError, match=f"{kind} at row {min(rows)} \\(column {col}\\)"):
        D.check_series(x, name="series.npy")


def test_check_series_messages():
    x = np.ones((10, 2))
    assert D.check_series(x) is x
    with pytest.raises(ValueError, match=r"mydata must have shape \(T, d\).*rank 1.*x\[:, None\]"):
        D.check_series(np.ones(10), name="mydata")
    with pytest.raises(ValueError, match="rank 3"):
        D.check_series(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="too short: 10 time steps, but at least 11"):
        D.check_series(x, min_length=11)
    with pytest.raises(ValueError, match="numeric"):
        D.check_series(np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="empty"):
        D.check_series(np.ones((0, 3)))


def test_standardise_round_trip():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (100, 3))
    x[:, 2] = 5.0
    z, mean, std = D.standardise(x)
    np.testing.assert_allclose(z * std + mean, x)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1.0)
    assert std[2] == 1.0 and np.all(z[:, 2] == 0.0)


@given(T=st.integers(2, 200), frac=st.floats(0.01, 0.99))
def test_train_test_split(T, frac):
    x = np.arange(T)[:, None]
    n_test = int(round(T * frac))
    if n_test in (0, T):
        with pytest.raises(ValueError, match="empty"):
            D.train_test_split(x, frac)
        return
    train, test = D.train_test_split(x, frac)
    assert len(test) == n_test
    np.testing.assert_array_equal(np.concatenate([train, test]), x)


def test_train_test_split_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        D.train_test_split(np.ones((10, 1)), 1.0)


# --------------------------------------------------------------------------- loaders


def test_npy_and_csv_round_trip(tmp_path):
    x = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    np.testing.assert_array_equal(D.load_series(tmp_path / "a.npy"), x)
    np.savetxt(tmp_path / "a.csv", x, delimiter=",", header="x,y,z", comments="")
    np.testing.assert_allclose(D.load_series(str(tmp_path / "a.csv")), x, rtol=1e-6)
    np.savetxt(tmp_path / "b.csv", x, delimiter=",")
    np.testing.assert_allclose(D.load(tmp_path / "b.csv"), x, rtol=1e-6)
    np.savetxt(tmp_path / "c.txt", x[:, 0])
    out = D.load_series(tmp_path / "c.txt")
    assert out.shape == (50, 1) and out.dtype == np.float32
    (tmp_path / "one.csv").write_text("a,b,c\r\n1,2,3\r\n")
    np.testing.assert_array_equal(D.load_series(tmp_path / "one.csv"), [[1.0, 2.0, 3.0]])
    np.save(tmp_path / "d.npy", x[:, 0])
    assert D.load_series(tmp_path / "d.npy").shape == (50, 1)


def test_loader_errors_name_the_problem(tmp_path):
    (tmp_path / "gap.csv").write_text("t,v\n1,2\n3,4\n5,\n7,8\n")
    with pytest.raises(ValueError, match=r"gap\.csv contains NaN at row 2 \(column 1\)"):
        D.load_series(tmp_path / "gap.csv")
    np.save(tmp_path / "bad.npy", np.array([[1.0], [np.inf]]))
    with pytest.raises(ValueError, match="Inf at row 1"):
        D.load_series(tmp_path / "bad.npy")
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="rank 3"):
        D.load_series(tmp_path / "cube.npy")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match="unsupported data file type"):
        D.load_series(tmp_path / "x.parquet")
    with pytest.raises(FileNotFoundError, match="no such data file"):
        D.load_series(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="unknown dataset 'lorenz64'.*lorenz63-test"):
        D.load_series("lorenz64")


@pytest.mark.parametrize(
    "name, shape",
    [
        ("santafe", (10_093, 1)),
        ("sunspots", (309, 1)),
        ("co2", (2_284, 1)),
        ("nile", (100, 1)),
        ("elnino", (732, 1)),
        ("mackey-glass", (10_000, 1)),
    ],
)
def test_offline_datasets(name, shape):
    if name == "santafe":
        pytest.importorskip("reservoirpy")
    elif name != "mackey-glass":
        pytest.importorskip("statsmodels")
    x = D.load(name)
    assert x.shape == shape and x.dtype == np.float32 and np.isfinite(x).all()
    assert name in D.DATASETS


def test_co2_gaps_are_interpolated():
    sm = pytest.importorskip("statsmodels.api")
    raw = sm.datasets.co2.load_pandas().data["co2"].to_numpy()
    x = D.co2()[:, 0]
    gap = int(np.flatnonzero(np.isnan(raw) & ~np.isnan(np.roll(raw, 1)))[0])
    lo, hi = raw[gap - 1], raw[np.flatnonzero(~np.isnan(raw[gap:]))[0] + gap]
    assert min(lo, hi) - 1e-3 <= x[gap] <= max(lo, hi) + 1e-3
    np.testing.assert_allclose(x[~np.isnan(raw)], raw[~np.isnan(raw)], rtol=1e-6)
