"""`paratime.train`: atomic checkpoints, exact resume, interrupts, logs."""

import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import paratime
from helpers import tree_allclose
from paratime.train import fit, load_checkpoint, make_step, save_checkpoint, train
from paratime.train._fit import TrainState

STEPS = 12
W_TRUE = jnp.array([[1.5, -2.0]])


def loss_fn(model, key):
    """Linear regression on a fresh batch drawn from the step's key."""
    x = jax.random.normal(key, (16, 2))
    y = x @ W_TRUE.T
    pred = jax.vmap(model)(x)
    loss = jnp.mean((pred - y) ** 2)
    return loss, {"mean_pred": jnp.mean(pred)}


def initial_state(optimizer):
    model = eqx.nn.Linear(2, 1, key=jax.random.key(0))
    params = eqx.filter(model, eqx.is_inexact_array)
    return TrainState(model, optimizer.init(params), jax.random.key(1))


OPTIMIZER = optax.adam(5e-2)
STEP = make_step(loss_fn, OPTIMIZER)


def read_log(out_dir):
    with open(os.path.join(out_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def without_time(records):
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def run(out_dir, step_fn=STEP, **kwargs):
    kwargs = {"steps": STEPS, "checkpoint_every": 5, "progress": False, **kwargs}
    return train(step_fn, initial_state(OPTIMIZER), out_dir=out_dir, **kwargs)


def failing_at(step_at, exc):
    def step_fn(state, step):
        if step == step_at:
            raise exc
        return STEP(state, step)

    return step_fn


def test_checkpoint_round_trip(tmp_path):
    state = initial_state(OPTIMIZER)
    state, _ = STEP(state, 0)
    path = tmp_path / "sub" / "ckpt.eqx"
    save_checkpoint(path, state, step=7, note="hello", lr=0.05)
    loaded, step, extra = load_checkpoint(path, initial_state(OPTIMIZER))
    assert step == 7 and extra == {"note": "hello", "lr": 0.05}
    arrays = lambda s: eqx.filter(s, eqx.is_array)
    assert tree_allclose(arrays(loaded), arrays(state), rtol=0, atol=0)
    assert bool(jnp.all(jax.random.key_data(loaded.key) == jax.random.key_data(state.key)))
    assert sorted(os.listdir(path.parent)) == ["ckpt.eqx"]  # no temporary files left


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A crash while writing keeps the previous checkpoint intact and leaves no debris."""
    path = tmp_path / "ckpt.eqx"
    state = initial_state(OPTIMIZER)
    save_checkpoint(path, state, step=1)
    before = path.read_bytes()

    def crash(f, tree):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(eqx, "tree_serialise_leaves", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, STEP(state, 0)[0], step=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.eqx"]


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.eqx"
    path.write_bytes(b"not a checkpoint\n")
    with pytest.raises(ValueError, match="other.eqx.* is not a paratime checkpoint"):
        load_checkpoint(path, initial_state(OPTIMIZER))


def test_resume_after_a_crash_reproduces_an_uninterrupted_run(tmp_path):
    full, full_history = run(tmp_path / "full")
    # Crash at step 8: the last checkpoint is at step 5 and the log has steps 0..7.
    with pytest.raises(RuntimeError, match="power cut"):
        run(tmp_path / "resumed", step_fn=failing_at(8, RuntimeError("power cut")))
    _, step, _ = load_checkpoint(tmp_path / "resumed" / "checkpoint.eqx", initial_state(OPTIMIZER))
    assert step == 5
    resumed, history = run(tmp_path / "resumed", resume=True)
    arrays = lambda s: eqx.filter(s, eqx.is_array)
    assert tree_allclose(arrays(resumed.model), arrays(full.model), rtol=0, atol=0)
    assert tree_allclose(arrays(resumed.opt_state), arrays(full.opt_state), rtol=0, atol=0)
    assert without_time(read_log(tmp_path / "resumed")) == without_time(read_log(tmp_path / "full"))
    assert without_time(history) == without_time(full_history)
    assert [r["step"] for r in history] == list(range(STEPS))


def test_keyboard_interrupt_saves_a_checkpoint(tmp_path):
    full, _ = run(tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "run", step_fn=failing_at(7, KeyboardInterrupt()))
    _, step, _ = load_checkpoint(tmp_path / "run" / "checkpoint.eqx", initial_state(OPTIMIZER))
    assert step == 7  # steps 0..6 done; not the periodic checkpoint at 5
    resumed, _ = run(tmp_path / "run", resume=True)
    arrays = lambda s: eqx.filter(s, eqx.is_array)
    assert tree_allclose(arrays(resumed.model), arrays(full.model), rtol=0, atol=0)
    assert without_time(read_log(tmp_path / "run")) == without_time(read_log(tmp_path / "full"))


def test_resume_of_a_finished_run_does_nothing(tmp_path):
    first, _ = run(tmp_path)
    calls = []

    def counting(state, step):
        calls.append(step)
        return STEP(state, step)

    again, history = run(tmp_path, step_fn=counting, resume=True)
    assert calls == [] and len(history) == STEPS
    arrays = lambda s: eqx.filter(s, eqx.is_array)
    assert tree_allclose(arrays(again.model), arrays(first.model), rtol=0, atol=0)


def test_fresh_run_overwrites_an_old_log(tmp_path):
    run(tmp_path, steps=4)
    run(tmp_path, steps=3)
    assert [r["step"] for r in read_log(tmp_path)] == [0, 1, 2]


def test_metrics_log_and_log_every(tmp_path):
    _, history = run(tmp_path, log_every=5)
    assert [r["step"] for r in history] == [4, 9, 11]  # every 5 steps, and the last one
    assert set(history[0]) >= {"step", "time", "loss", "grad_norm", "mean_pred"}
    assert without_time(read_log(tmp_path)) == without_time(history)


def test_fit_learns_and_progress_bar_runs(tmp_path):
    model = eqx.nn.Linear(2, 1, key=jax.random.key(0))
    trained, history = fit(
        lambda m, k: loss_fn(m, k)[0],
        model,
        optax.adam(5e-2),
        steps=150,
        key=jax.random.key(1),
        out_dir=tmp_path,
        progress=True,
        checkpoint_every=50,
    )
    assert history[-1]["loss"] < 1e-2 * history[0]["loss"]
    np.testing.assert_allclose(trained.weight, W_TRUE, atol=0.1)
    assert (tmp_path / "checkpoint.eqx").exists()


def test_nan_loss_stops_with_a_checkpoint(tmp_path):
    def nan_step(state, step):
        state, metrics = STEP(state, step)
        return state, {**metrics, "loss": jnp.nan if step == 3 else metrics["loss"]}

    with pytest.raises(FloatingPointError, match="step 3"):
        run(tmp_path, step_fn=nan_step)
    _, step, _ = load_checkpoint(tmp_path / "checkpoint.eqx", initial_state(OPTIMIZER))
    assert step == 4


def test_a_skipped_nan_step_goes_on_but_not_for_ever(tmp_path, monkeypatch):
    """A step that reports `skipped` kept its state: training goes on past its NaN loss,
    until more than MAX_SKIPPED logged steps in a row skip."""

    def skipping(nan_steps):
        def step_fn(state, step):
            new, metrics = STEP(state, step)
            bad = nan_steps(step)
            new = state if bad else new  # the update is rejected
            loss = jnp.nan if bad else metrics["loss"]
            return new, {**metrics, "loss": loss, "skipped": float(bad)}

        return step_fn

    _, history = run(tmp_path, step_fn=skipping(lambda k: k in (3, 4)))
    assert len(history) == STEPS and history[3]["skipped"] == 1.0
    assert np.isfinite(history[-1]["loss"])
    monkeypatch.setattr(paratime.train._loop, "MAX_SKIPPED", 2)
    with pytest.raises(FloatingPointError, match="3 steps in a row skipped"):
        run(tmp_path, step_fn=skipping(lambda k: k >= 5))


def test_train_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="out_dir"):
        run(None, resume=True)
    with pytest.raises(ValueError, match="steps"):
        run(None, steps=-1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run(tmp_path / "missing", resume=True)
    assert not (tmp_path / "missing").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty.*no checkpoint"):
        run(tmp_path / "empty", resume=True)


def test_train_in_memory():
    state, history = run(None)
    assert len(history) == STEPS and history[-1]["loss"] < history[0]["loss"]
    assert isinstance(paratime.train.train, type(train))


@pytest.mark.parametrize("bad", [lambda m: 0.0, lambda m, k, batch: 0.0, lambda: 0.0])
def test_fit_names_loss_fn_when_it_cannot_take_model_and_key(bad):
    model = paratime.cells.Elman(1, 2, key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"`loss_fn` must take two positional arguments"):
        fit(bad, model, OPTIMIZER, steps=1, key=jax.random.key(0), progress=False)
    with pytest.raises(TypeError, match="loss_fn"):
        make_step(bad, OPTIMIZER)
