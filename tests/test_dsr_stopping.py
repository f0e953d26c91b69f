"""Model selection over spread-out starts (worst run), patience and the wall-clock budget."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime.dsr._select import make_validator, validation_scores
from paratime.dsr._train import DSRState
from paratime.train import train

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402


@pytest.fixture(scope="module")
def series():
    return np.asarray(paratime.data.lorenz63(900, standardise=True, key=0), np.float64)


def test_spread_starts_visit_a_region_that_evenly_spaced_starts_miss():
    # A series that sits at 0 except for a short excursion to 10 in the middle.
    v = np.zeros((1000, 1))
    v[600:620] = 10.0
    starts = dsr.spread_starts(v, 4, context=5)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0) and len(starts) <= 4
    assert np.any(v[starts + 5, 0] == 10.0)  # one free run begins in the excursion
    even = np.linspace(0, 1000 - 6, 4).astype(int)
    assert not np.any(v[even + 5, 0] == 10.0)


def test_spread_starts_are_at_most_the_candidates():
    v = np.random.default_rng(0).normal(size=(60, 2))
    assert len(dsr.spread_starts(v, 100, context=50)) == 10
    with pytest.raises(ValueError, match="segment"):
        dsr.spread_starts(v, 3, context=60)


def test_the_worst_run_scores_at_least_the_mean(series):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    val = jnp.asarray(series[:400])
    worst = validation_scores(model, val, starts=6, reduce="worst")
    mean = validation_scores(model, val, starts=6, reduce="mean")
    assert worst["val_D_stsp"] >= mean["val_D_stsp"] - 1e-12
    assert worst["val_D_H"] >= mean["val_D_H"] - 1e-12
    with pytest.raises(ValueError, match="reduce"):
        validation_scores(model, val, reduce="median")


def _state(best_step):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=4, key=jax.random.key(0))
    return DSRState(model, (), jax.random.key_data(jax.random.key(0)), 0.1, -1.0, best_step)


def test_patience_stops_once_the_best_is_that_old(series):
    validate = make_validator(jnp.asarray(series[:400]), None, starts=2, patience=100)
    # A best score of -1 that no model beats, reached at step 50.
    old = _state(50)
    assert validate(old, 149)[1].get("stop") is None
    assert validate(old, 150)[1]["stop"] == 1.0
    # Nothing selected yet (best_step -1): never a stop.
    none = DSRState(old.model, (), old.key, 0.1, -1.0, -1)
    assert validate(none, 10_000)[1].get("stop") is None
    with pytest.raises(ValueError, match="patience"):
        make_validator(jnp.asarray(series[:400]), None, patience=0)


def _counter(state, step):
    return state + 1, {"loss": jnp.asarray(1.0)}


def test_train_stops_when_validate_says_so(tmp_path):
    stop_at = lambda s, done: (s, {"stop": 1.0} if done == 6 else {})
    state, history = train(
        _counter, jnp.asarray(0), steps=20, validate=stop_at, validate_every=3, progress=False,
        out_dir=tmp_path,
    )  # fmt: skip
    assert int(state) == 6 and history[-1]["step"] == 5
    _, step, _ = paratime.train.load_checkpoint(tmp_path / "checkpoint.eqx", jnp.asarray(0))
    assert step == 6


def test_train_stops_at_the_time_limit_after_validating():
    seen = []
    record = lambda s, done: (seen.append(done) or s, {})
    state, history = train(
        _counter, jnp.asarray(0), steps=50, validate=record, validate_every=1000,
        time_limit=1e-9, progress=False,
    )  # fmt: skip
    assert int(state) == 1 and seen == [1] and len(history) == 1
    with pytest.raises(ValueError, match="time_limit"):
        train(_counter, jnp.asarray(0), steps=2, time_limit=0, progress=False)


def test_fit_with_patience_stops_early(series):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=4, key=jax.random.key(0))
    x, val = dsr.split_validation(series, 0.25, min_train=50)
    state, history = dsr.fit(
        model, jnp.asarray(x),
        dsr.FitSettings(steps=400, seq_len=40, batch_size=2, lr=1e-9, validate_every=2,
                        validation_starts=2, patience=4),
        key=jax.random.key(1), solver=paratime.Sequential(), validation=jnp.asarray(val),
        progress=False,
    )  # fmt: skip
    # A learning rate of 1e-9 barely moves the model: the best stays early and it stops.
    assert history[-1]["step"] + 1 < 400 and history[-1].get("stop") == 1.0
    assert (history[-1]["step"] + 1) - int(state.best_step) >= 4


@pytest.mark.parametrize(
    "text, seconds", [("600", 600.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0)]
)
def test_time_limit_in_seconds(text, seconds):
    cfg = dsr.TrainConfig(data="x.npy", time_limit=text)
    assert math.isclose(cfg.time_limit_seconds(), seconds)


def test_a_bad_time_limit_is_one_line_naming_the_flag(tmp_path):
    result = typer_testing.CliRunner().invoke(
        app, ["train", "--data", "x.npy", "--time-limit", "soon", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0 and "--time-limit" in result.output
    assert "Traceback" not in result.output


def test_runs_from_off_the_data_can_only_raise_the_worst_score(series):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    val = jnp.asarray(series[:400])
    plain = validation_scores(model, val, starts=4)
    boxed = validation_scores(model, val, starts=4, box_starts=3)
    assert boxed["val_D_stsp"] >= plain["val_D_stsp"]
    assert boxed["val_D_H"] >= plain["val_D_H"]


def test_resuming_a_run_that_patience_stopped_trains_nothing(series, tmp_path):
    np.save(tmp_path / "x.npy", series.astype(np.float32))
    run = tmp_path / "run"
    args = ["train", "--data", tmp_path / "x.npy", "--out", run, "--hidden", "4", "--seq-len",
            "40", "--batch-size", "2", "--steps", "400", "--lr", "1e-9", "--patience", "4",
            "--validate-every", "2", "--validation-starts", "2", "--validation", "0.25",
            "--solver", "sequential", "--on-overflow", "keep", "--no-progress"]  # fmt: skip
    runner = typer_testing.CliRunner()
    first = runner.invoke(app, [str(a) for a in args])
    assert first.exit_code == 0 and "stopped after" in first.stdout, first.output
    saved = {f: (run / f).read_bytes() for f in ("checkpoint.eqx", "best.eqx", "metrics.jsonl")}
    again = runner.invoke(app, [str(a) for a in [*args, "--resume"]])
    assert again.exit_code == 0 and "finished training" in again.stdout, again.output
    assert {f: (run / f).read_bytes() for f in saved} == saved
    assert "best on the validation part" in again.stdout
    changed = runner.invoke(app, [str(a) for a in [*args, "--resume", "--hidden", "5"]])
    assert changed.exit_code != 0 and "different options: hidden" in changed.output
