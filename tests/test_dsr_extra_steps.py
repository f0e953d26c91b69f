"""`extra_steps`: a run still improving on validation at `steps` goes on, up to
`extra_steps` more, until patience ends it; without validation or patience it stops at
`steps`, and the steps before `steps` are those of a run without the extension."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import ConfigError, dsr
from paratime.dsr._cli import _finished
from paratime.dsr._config import TrainConfig

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402


@pytest.fixture(scope="module")
def split():
    series = np.asarray(paratime.data.lorenz63(900, standardise=True, key=0), np.float64)
    x, val = dsr.split_validation(series, 0.25, min_train=50)
    return jnp.asarray(x), jnp.asarray(val)


def _fit(split, validated=True, **settings):
    x, val = split
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=4, key=jax.random.key(0))
    base = dict(seq_len=40, batch_size=2, validate_every=2, validation_starts=2)
    return dsr.fit(
        model, x, dsr.FitSettings(**(base | settings)), key=jax.random.key(1),
        solver=paratime.Sequential(), validation=val if validated else None, progress=False,
    )  # fmt: skip


def test_a_run_that_patience_does_not_end_goes_on_for_the_extra_steps(split):
    _, history = _fit(split, steps=6, extra_steps=4, patience=1000)
    assert history[-1]["step"] + 1 == 10 and not history[-1].get("stop")
    # No validation part, patience off, or no extra steps: it ends at `steps`.
    for validated, patience, extra in ((False, 1000, 4), (True, 0, 4), (True, 1000, 0)):
        _, h = _fit(split, validated, steps=6, extra_steps=extra, patience=patience)
        assert h[-1]["step"] + 1 == 6


def test_the_steps_before_steps_are_those_of_a_run_without_extra_steps(split):
    _, short = _fit(split, steps=6, extra_steps=0, patience=1000)
    _, long = _fit(split, steps=6, extra_steps=4, patience=1000)
    assert [r["loss"] for r in short] == [r["loss"] for r in long[:6]]
    assert [r.get("val_score") for r in short[:-1]] == [r.get("val_score") for r in long[:5]]


def test_patience_ends_the_extra_steps(split):
    # A learning rate of 1e-9 barely moves the model: its best stays at an early validation,
    # so patience (10 steps) ends the run past `steps` (4) long before the 100 extra steps.
    state, history = _fit(split, steps=4, extra_steps=100, patience=10, lr=1e-9)
    done = history[-1]["step"] + 1
    assert 4 < done < 104 and history[-1].get("stop") == 1.0
    assert done - int(state.best_step) >= 10


def test_max_steps_and_a_bad_value():
    cfg = TrainConfig(data="x.npy", steps=50, extra_steps=30, patience=7)
    assert (cfg.max_steps(True), cfg.max_steps(False)) == (80, 50)
    assert cfg.replace(patience=0).max_steps(True) == 50
    assert TrainConfig(data="x.npy", steps=50).max_steps(True) == 100  # default: as many again
    with pytest.raises(ConfigError, match="extra_steps"):
        TrainConfig(data="x.npy", extra_steps=-1)
    assert "extra_steps" in TrainConfig.resumable  # a run may be resumed with another value


def test_a_restart_interrupted_in_its_extra_steps_is_not_finished():
    cfg = TrainConfig(data="x.npy", steps=50, extra_steps=30, patience=7)
    assert not _finished([{"step": 59}], cfg)  # past `steps`, not stopped: resume it
    assert _finished([{"step": 59, "stop": 1.0}], cfg)
    assert _finished([{"step": 79}], cfg)
    assert _finished([{"step": 49}], cfg.replace(validation=0.0))


def test_the_command_says_how_far_past_steps_it_went(tmp_path):
    np.save(tmp_path / "x.npy", np.asarray(paratime.data.lorenz63(900, standardise=True, key=0)))
    args = ["train", "--data", tmp_path / "x.npy", "--out", tmp_path / "run", "--hidden", "4",
            "--seq-len", "40", "--batch-size", "2", "--steps", "4", "--extra-steps", "2",
            "--patience", "1000", "--validate-every", "2", "--validation-starts", "2",
            "--validation", "0.25", "--on-overflow", "keep", "--no-progress"]  # fmt: skip
    result = typer_testing.CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "went on 2 steps past --steps 4" in result.stdout and "at most 2" in result.stdout
    assert "trained 6 steps" in result.stdout
