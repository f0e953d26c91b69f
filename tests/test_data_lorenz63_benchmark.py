"""The named Lorenz-63 datasets are generated inside the package, deterministically, and
cached: no file beside the repository is needed."""

from pathlib import Path

import jax
import numpy as np
import pytest
from benchmarks.decomp.tasks import lorenz_one_step

import paratime.data as D
from paratime.data import _benchmark

# The reference files beside the repository (or beside its worktree folder), if present.
_BESIDE = [Path(__file__).resolve().parents[k] / "shared" / "data" / "lorenz63" for k in (2, 3)]
SHARED = next((p for p in _BESIDE if p.is_dir()), _BESIDE[0])


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache folder holding both parts, generated once for the module."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARATIME_CACHE", str(root))
        train, test = D.lorenz63_train(), D.lorenz63_test()
    return root, train, test


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PARATIME_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert D.cache_dir() == tmp_path / "paratime"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert D.cache_dir() == Path.home() / ".cache" / "paratime"
    monkeypatch.setenv("PARATIME_CACHE", str(tmp_path / "own"))
    assert D.cache_dir() == tmp_path / "own"


def test_shapes_and_format(cache):
    root, train, test = cache
    for x in (train, test):
        assert x.shape == (100_000, 3) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_allclose(test.mean(axis=0, dtype=np.float64), 0.0, atol=1e-5)
    np.testing.assert_allclose(test.std(axis=0, dtype=np.float64), 1.0, atol=1e-5)
    # 5 % observation noise on standardised columns: std sqrt(1 + 0.05²)
    np.testing.assert_allclose(train.std(axis=0), np.sqrt(1 + 0.05**2), atol=2e-3)
    assert sorted(p.name for p in root.iterdir()) == [
        f"lorenz63-v{_benchmark.VERSION}-test.npy",
        f"lorenz63-v{_benchmark.VERSION}-train.npy",
    ]


def test_on_the_attractor(cache):
    _, train, test = cache
    for x in (train, test):
        corr = np.corrcoef(x.T)
        assert 0.86 < corr[0, 1] < 0.90  # x and y move together
        assert abs(corr[0, 2]) < 0.05 and abs(corr[1, 2]) < 0.05  # the (x, y) -> -(x, y) symmetry
        kurtosis = (x**4).mean(axis=0)
        assert 2.1 < kurtosis[0] < 2.45 and 2.05 < kurtosis[2] < 2.3  # two wings; z one-sided
        assert 0.1 < (x[:, 2] ** 3).mean() < 0.3  # z is skewed upwards
        lag = lambda k: float(np.mean(x[:-k, 0] * x[k:, 0]))
        assert lag(1) > 0.99 and 0.85 < lag(10) < 0.89 and 0.33 < lag(30) < 0.43  # dt = 0.01
    # starts on the attractor (after the burn-in), not at the origin
    assert abs(test[0, 2]) < 2.5
    assert np.abs(train[:100] - test[:100]).max() > 1  # two separate trajectories


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared Lorenz-63 files are absent")
def test_statistics_match_the_shared_benchmark(cache):
    _, _, test = cache
    ref = np.load(SHARED / "lorenz63_test.npy")
    for k in (1, 10, 30, 100):
        a = float(np.mean(test[:-k, 0] * test[k:, 0]))
        b = float(np.mean(ref[:-k, 0] * ref[k:, 0]))
        assert abs(a - b) < 0.02, (k, a, b)
    np.testing.assert_allclose(np.corrcoef(test.T), np.corrcoef(ref.T), atol=0.05)


def test_deterministic_whatever_the_precision_mode(cache):
    _, _, test = cache
    with jax.enable_x64(False):
        again = _benchmark.generate_lorenz63_benchmark("test")
    np.testing.assert_array_equal(again, test)


def test_read_from_the_cache_and_rewritten_when_damaged(cache, monkeypatch):
    root, train, _ = cache
    monkeypatch.setenv("PARATIME_CACHE", str(root))
    generated = []
    real = _benchmark.generate_lorenz63_benchmark
    monkeypatch.setattr(
        _benchmark,
        "generate_lorenz63_benchmark",
        lambda part: generated.append(part) or real(part),
    )
    np.testing.assert_array_equal(D.load("lorenz63"), train)
    np.testing.assert_array_equal(D.load("lorenz63-x"), train[:, :1])
    assert generated == []  # read, not generated again
    path = root / f"lorenz63-v{_benchmark.VERSION}-train.npy"
    path.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(D.load("lorenz63"), train)
    assert generated == ["train"]
    np.testing.assert_array_equal(np.load(path), train)  # the file was rewritten
    assert not list(root.glob(".*.tmp"))  # no temporary left behind


def test_unwritable_cache_still_gives_the_data(cache, monkeypatch, tmp_path):
    _, train, _ = cache
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PARATIME_CACHE", str(blocker / "below-a-file"))
    np.testing.assert_array_equal(D.lorenz63_train(), train)


def test_decomp_task_needs_no_files(cache, monkeypatch):
    root, train, _ = cache
    monkeypatch.setenv("PARATIME_CACHE", str(root))
    xs, ys = lorenz_one_step(2, 50, start=10)  # (the experiment's task, in benchmarks/)
    assert xs.shape == ys.shape == (2, 50, 3)
    np.testing.assert_allclose(xs[0, 0], train[10], rtol=1e-6)
    np.testing.assert_allclose(ys[1, -1], train[10 + 100], rtol=1e-6)
