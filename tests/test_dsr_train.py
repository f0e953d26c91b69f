"""DSR training (GTF, aGTF, resume), data errors and the `paratime dsr` command line."""

import json
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from helpers import tree_allclose
from paratime import dsr
from paratime.dsr import _train as dsr_train
from paratime.dsr._train import check_seq_len, sample_windows

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lorenz63"


@pytest.fixture(scope="module")
def series():
    return np.asarray(paratime.data.lorenz63(400, standardise=True, key=0), np.float64)


def _fit(series, out, steps, resume=False, gtf="adaptive"):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    return dsr.fit(
        model,
        jnp.asarray(series),
        dsr.FitSettings(
            steps=steps, seq_len=50, batch_size=2, gtf=gtf, alpha_every=2, checkpoint_every=3
        ),
        key=jax.random.key(1),
        solver=paratime.DEER(),
        out_dir=out,
        resume=resume,
        progress=False,
    )


def test_resume_is_identical_to_an_uninterrupted_run(series, tmp_path, monkeypatch):
    full, hist_full = _fit(series, tmp_path / "a", 6)
    # Interrupt the same run (Ctrl-C) during step 4, then resume it.
    make = dsr_train.make_dsr_step

    def interrupted(*args, **kwargs):
        step_fn = make(*args, **kwargs)

        def wrapped(state, step):
            if step == 4:
                raise KeyboardInterrupt
            return step_fn(state, step)

        return wrapped

    monkeypatch.setattr(dsr_train, "make_dsr_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fit(series, tmp_path / "b", 6)
    monkeypatch.undo()
    resumed, hist_resumed = _fit(series, tmp_path / "b", 6, resume=True)
    assert tree_allclose(full.model, resumed.model, rtol=0, atol=0)
    assert float(full.alpha) == float(resumed.alpha)
    assert [h["loss"] for h in hist_full] == [h["loss"] for h in hist_resumed]
    # aGTF moved α and the loss went down.
    alphas = [h["alpha"] for h in hist_full]
    assert all(0 <= a <= 1 for a in alphas) and len(set(alphas)) > 1
    assert hist_full[-1]["loss"] < hist_full[0]["loss"]


def test_windows_and_sequence_length_checks(series):
    x = jnp.asarray(series)
    w = sample_windows(jax.random.key(0), x, 400, 2)
    assert tree_allclose(w[0], x) and tree_allclose(w[1], x)  # the whole series
    w = sample_windows(jax.random.key(0), x, 30, 5)
    assert w.shape == (5, 30, 3)
    with pytest.raises(ValueError, match="too short"):
        check_seq_len(x, 401, 1)
    with pytest.raises(ValueError, match="seq_len"):
        check_seq_len(x, 1, 1)
    with pytest.raises(ValueError, match="gtf"):
        dsr.FitSettings(steps=1, seq_len=10, gtf=1.5)


def test_adaptive_alpha_starts_at_least_at_alpha0(series):
    x = jnp.asarray(series)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    # A contracting model (κ < 1, so α_est = 0), as fresh models often are: without the floor
    # aGTF would start unforced.
    model = eqx.tree_at(
        lambda m: (m.cell.A, m.cell.W1), model, (0.5 * model.cell.A, 0 * model.cell.W1)
    )
    assert float(dsr.jacobian_kappa(model.cell, x)) < 1.0
    assert float(dsr_train.initial_alpha(model, x, "adaptive", 0.0)) == 0.0
    assert float(dsr_train.initial_alpha(model, x, "adaptive", 0.1)) == pytest.approx(0.1)
    assert float(dsr_train.initial_alpha(model, x, 0.3, 0.1)) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="alpha0"):
        dsr_train.initial_alpha(model, x, "adaptive", 1.5)


def _fresh_state(model, opt, alpha):
    """A `DSRState` at step 0: the optimiser's initial state, batch key 1, the given α."""
    params = eqx.filter(model, eqx.is_inexact_array)
    return dsr.DSRState(model, opt.init(params), jax.random.key_data(jax.random.key(1)), alpha)


def test_non_finite_steps_are_skipped_and_kappa_is_the_batch_maximum(series):
    x = jnp.asarray(series)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    opt = dsr.make_optimizer(1e-2, 10)
    state = _fresh_state(model, opt, jnp.asarray(0.2, x.dtype))
    step = dsr_train.make_dsr_step(x, opt, seq_len=50, batch_size=3, adaptive=True, alpha_every=1)
    new, metrics = step(state, 0)
    assert float(metrics["skipped"]) == 0.0
    assert not tree_allclose(new.model, state.model)
    # κ is the largest over the batch's subsequences, as in the GTF paper's code.
    batch = sample_windows(jax.random.fold_in(jax.random.key(1), 0), x, 50, 3)
    kappas = [model.gtf_loss(b, 0.2, paratime.Auto())[1]["kappa"] for b in batch]
    assert float(metrics["kappa"]) == pytest.approx(max(float(k) for k in kappas), rel=1e-6)
    # Data that overflow the loss: the update is skipped, nothing becomes NaN.
    bad = dsr_train.make_dsr_step(x * 1e200, opt, seq_len=50, batch_size=3, adaptive=True)
    new, metrics = bad(state, 0)
    assert float(metrics["skipped"]) == 1.0 and not np.isfinite(float(metrics["loss"]))
    assert tree_allclose(new.model, state.model, rtol=0, atol=0)
    # aGTF forces harder after a skipped step: 1 − α shrinks by a quarter.
    assert float(new.alpha) == pytest.approx(1 - 0.75 * (1 - 0.2))


def test_an_expanding_model_is_forced_until_its_steps_train(series):
    # Weights scaled up and α = 0: the forced trajectory overflows on every window, so every
    # step used to be skipped and the model never trained (seen on Lorenz-63 with seed 8,
    # whose initial α of 0.12 overflowed from step 0). Now each skipped step forces harder.
    x = jnp.asarray(series)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=16, key=jax.random.key(0))
    model = jax.tree_util.tree_map(lambda a: a * 40 if eqx.is_inexact_array(a) else a, model)
    opt = dsr.make_optimizer(1e-3, 30)
    state = _fresh_state(model, opt, jnp.asarray(0.0, x.dtype))
    step = dsr_train.make_dsr_step(x, opt, seq_len=100, batch_size=4, adaptive=True,
                                   alpha_every=1000)  # fmt: skip
    skipped, alphas = [], []
    for k in range(30):
        alphas.append(float(state.alpha))
        state, metrics = step(state, k)
        skipped.append(float(metrics["skipped"]))
    assert skipped[0] == 1.0 and skipped[-1] == 0.0, skipped
    first_ok = skipped.index(0.0)
    assert alphas[1 : first_ok + 1] == pytest.approx([1 - 0.75**k for k in range(1, first_ok + 1)])
    assert all(s == 0.0 for s in skipped[first_ok:]), skipped  # from then on it trains


def _invoke(*args):
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output + str(result.exception or "")


def test_cli_train_eval_generate(series, tmp_path):
    data = tmp_path / "train.npy"
    test = tmp_path / "test.npy"
    np.save(data, series.astype(np.float32))
    np.save(test, paratime.data.lorenz63(400, standardise=True, key=1))
    run = tmp_path / "run"
    # The same sizes as `_fit`, so the jitted training step is reused (fast tests).
    args = ["train", "--data", data, "--out", run, "--hidden", "8", "--seq-len", "50"]
    args += ["--batch-size", "2", "--alpha-every", "2", "--solver", "deer", "--steps", "6"]
    args += ["--lr", "0.001", "--seed", "0", "--no-progress", "--checkpoint-every", "2"]
    args += ["--validation", "0"]
    code, out = _invoke(*args)
    assert code == 0, out
    assert not (run / "best.eqx").exists()
    code, out = _invoke(*args, "--resume")  # already finished: nothing to redo
    assert code == 0, out
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(6))
    assert all(0 <= r["alpha"] <= 1 for r in log) and log[-1]["loss"] < log[0]["loss"]
    code, out = _invoke(*args, "--resume", "--model", "plrnn")
    assert code != 0 and "different options: model" in out

    code, out = _invoke("eval", run, "--data", test)
    assert code == 0, out
    assert "no best.eqx" in out and "using the last checkpoint" in out  # --validation 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["step"] == 6
    assert {"D_stsp", "D_H", "PE20"} <= set(metrics) and "D_stsp" in out
    for name in ("attractor.png", "spectra.png", "curves.png"):
        assert (run / name).stat().st_size > 0

    traj = tmp_path / "traj.npy"
    code, out = _invoke("generate", run, "--steps", "25", "--out", traj)
    assert code == 0, out
    assert np.load(traj).shape == (25, 3)
    np.save(tmp_path / "x0.npy", series[0])
    code, out = _invoke("generate", run, "--steps", "5", "--out", traj, "--x0", tmp_path / "x0.npy")
    assert code == 0, out
    assert np.all(np.isfinite(np.load(traj))) and np.load(traj).shape == (5, 3)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("nan", "NaN at row 7"),
        ("rank", "rank"),
        ("short", "too short"),
    ],
)
def test_cli_bad_data(bad, message, series, tmp_path):
    x = series.copy()
    if bad == "nan":
        x[7, 1] = np.nan
    elif bad == "rank":
        x = x[:, 0]
        x = x[None]
        x = np.stack([x, x])
    else:
        x = x[:30]
    path = tmp_path / "bad.npy"
    np.save(path, x)
    code, out = _invoke("train", "--data", path, "--out", tmp_path / "r", "--seq-len", "40")
    assert code != 0
    assert message in " ".join(out.replace("│", " ").split())
    assert not (tmp_path / "r" / "checkpoint.eqx").exists()


@pytest.mark.skipif(not SHARED.exists(), reason="the shared Lorenz-63 benchmark is absent")
def test_training_on_the_lorenz63_benchmark(tmp_path):
    x = np.load(SHARED / "lorenz63_on0.05_train.npy")[:400].astype(np.float64)
    state, hist = _fit(x, tmp_path, 6)
    assert all(h["failed"] == 0 for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]
