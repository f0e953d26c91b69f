"""Datasets of several trajectories: no training window crosses from one into the next."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from paratime import dsr
from paratime.dsr._trajectories import (
    as_trajectories,
    load_trajectories,
    sample_windows_from,
    window_starts,
)

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402


def test_window_starts_stay_inside_each_trajectory():
    # Offsets 0, 5, 7; the second trajectory (2 steps) holds no window of 3.
    np.testing.assert_array_equal(window_starts([5, 2, 4], 3), [0, 1, 2, 7, 8])
    with pytest.raises(ValueError, match="seq_len"):
        window_starts([2, 2], 3)


def test_sampled_windows_never_mix_trajectories(getkey):
    lengths = [7, 3, 12, 5]
    trajs = [np.full((n, 2), float(i)) for i, n in enumerate(lengths)]
    data = jnp.asarray(np.concatenate(trajs))
    starts = jnp.asarray(window_starts(lengths, 4))
    batch = sample_windows_from(getkey(), data, starts, 4, 500)
    assert batch.shape == (500, 4, 2)
    # Each window holds one trajectory's label only, and every long-enough one is drawn.
    assert np.all(batch == batch[:, :1, :1])
    assert set(np.unique(batch[:, 0, 0])) == {0.0, 2.0, 3.0}


def test_as_trajectories_checks_each_one():
    assert len(as_trajectories(np.zeros((4, 2)))) == 1
    with pytest.raises(ValueError, match=r"\[1\]"):
        as_trajectories([np.zeros((4, 2)), np.array([[np.nan, 0.0]])])
    with pytest.raises(ValueError, match="different dimensions"):
        as_trajectories([np.zeros((4, 2)), np.zeros((4, 3))])
    with pytest.raises(ValueError, match="empty"):
        as_trajectories([])


def test_fit_takes_a_list_of_trajectories_of_different_lengths():
    rng = np.random.default_rng(0)
    trajs = [rng.normal(size=(n, 3)) for n in (40, 25, 60)]
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=4, key=jax.random.key(0))
    state, history = dsr.fit(
        model, [jnp.asarray(t) for t in trajs], dsr.FitSettings(steps=3, seq_len=30, batch_size=2),
        key=jax.random.key(1), solver=paratime.Sequential(), progress=False,
    )  # fmt: skip
    assert len(history) == 3 and all(np.isfinite(h["loss"]) for h in history)


def test_load_trajectories_from_npz_and_a_folder(tmp_path):
    a, b = np.ones((5, 2)), np.zeros((8, 2))
    np.savez(tmp_path / "set.npz", first=a, second=b)
    got = load_trajectories(tmp_path / "set.npz")
    assert got is not None and [t.shape for t in got] == [(5, 2), (8, 2)]
    folder = tmp_path / "runs"
    folder.mkdir()
    np.save(folder / "b.npy", b)
    np.save(folder / "a.npy", a)
    got = load_trajectories(folder)
    assert got is not None and [t.shape for t in got] == [(5, 2), (8, 2)]  # sorted by name
    assert load_trajectories(tmp_path / "x.npy") is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .npy"):
        load_trajectories(tmp_path / "empty")


def test_cli_trains_on_a_folder_of_trajectories(tmp_path):
    import paratime.data

    folder = tmp_path / "data"
    folder.mkdir()
    for i, n in enumerate((700, 300)):
        x = np.asarray(paratime.data.lorenz63(n, standardise=True, key=i), np.float32)
        np.save(folder / f"t{i}.npy", x)
    out = tmp_path / "run"
    args = ["train", "--data", str(folder), "--steps", "2", "--hidden", "4", "--seq-len", "20"]
    args += ["--batch-size", "2", "--solver", "sequential", "--validation", "0.3"]
    args += ["--validate-every", "1", "--validation-starts", "2", "--no-progress"]
    result = typer_testing.CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "best.eqx").exists()
    bad = typer_testing.CliRunner().invoke(
        app, [*args[:2], str(tmp_path / "nope.npz"), "--out", str(tmp_path / "r2")]
    )
    assert bad.exit_code != 0 and "--data" in bad.output
