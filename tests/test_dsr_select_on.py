"""Model selection by D_stsp and D_H together, each in units of the data's own floor."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime.dsr import _select, metrics
from paratime.dsr._select import MIN_FLOOR, data_floor, make_validator, split_validation
from paratime.train import load_checkpoint


@pytest.fixture(scope="module")
def series():
    return np.asarray(paratime.data.lorenz63(1600, standardise=True, key=0), np.float64)


def test_data_floor_is_the_median_over_stretches_of_the_validation_length(series):
    train, val = series[:1300], series[1300:]
    got = data_floor(train, val, windows=3)
    firsts = (0, 500, 1000)  # evenly spread: 0 .. T - V
    d_stsp = [metrics.state_space_divergence(val, train[s : s + 300]) for s in firsts]
    d_h = [float(metrics.power_spectrum_distance(val, train[s : s + 300])) for s in firsts]
    assert got == pytest.approx({"D_stsp": np.median(d_stsp), "D_H": np.median(d_h)})
    # A training series shorter than the segment is used whole (D_H: on as many steps).
    short = data_floor(train[:200], val)
    assert short["D_stsp"] == pytest.approx(metrics.state_space_divergence(val, train[:200]))
    want = metrics.power_spectrum_distance(val[:200], train[:200])
    assert short["D_H"] == pytest.approx(float(want))
    # The series against itself scores nothing.
    assert data_floor(val, val) == pytest.approx({"D_stsp": 0.0, "D_H": 0.0}, abs=1e-9)


class _State:
    """Stands in for a DSRState: the validator reads `model`, `best_score` and `best_step`
    and records a new best as `type(state)(model, opt_state, key, alpha, score, step)`."""

    def __init__(
        self, model, opt_state=None, key=None, alpha=None, best_score=np.inf, best_step=-1
    ):
        self.model, self.opt_state, self.key, self.alpha = model, opt_state, key, alpha
        self.best_score, self.best_step = best_score, best_step


@pytest.mark.parametrize("select_on", ["D_stsp", "both"])
def test_the_selected_step_is_the_argmin_of_the_chosen_score(series, monkeypatch, select_on):
    train, val = series[:1300], series[1300:]
    floor = {k: max(v, MIN_FLOOR) for k, v in data_floor(train, val).items()}
    # Model 0 has the better D_stsp, model 1 the far better spectrum.
    scripted = [
        {"val_D_stsp": 1.00 * floor["D_stsp"], "val_D_H": 5.0 * floor["D_H"]},
        {"val_D_stsp": 1.10 * floor["D_stsp"], "val_D_H": 1.0 * floor["D_H"]},
    ]
    monkeypatch.setattr(_select, "validation_scores", lambda m, *a, **k: dict(scripted[m]))
    validate = make_validator(jnp.asarray(val), None, select_on=select_on, reference=train)
    state = _State(None)
    for step, model in enumerate([0, 1], start=1):
        state, logged = validate(
            _State(model, best_score=state.best_score, best_step=state.best_step), step
        )
    expected = {"D_stsp": 1, "both": 2}[select_on]
    assert int(state.best_step) == expected and logged["best_step"] == expected
    if select_on == "both":
        assert logged["val_score"] == pytest.approx(1.10 + 1.0)
        assert logged["best_score"] == pytest.approx(1.10 + 1.0)
    else:
        assert logged["best_score"] == pytest.approx(scripted[0]["val_D_stsp"])


def test_training_with_select_on_both_logs_and_keeps_the_floor_scaled_score(series, tmp_path):
    x, val = split_validation(series, 0.25, min_train=50)
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    settings = dsr.FitSettings(
        steps=6, extra_steps=0, seq_len=50, batch_size=2, lr=3e-2, validate_every=2,
        select_on="both",
    )
    state, history = dsr.fit(
        model, jnp.asarray(x), settings, key=jax.random.key(1), solver=paratime.Sequential(),
        validation=jnp.asarray(val), out_dir=tmp_path, progress=False,
    )  # fmt: skip
    floor = {k: max(v, MIN_FLOOR) for k, v in data_floor(x, val).items()}
    scored = [h for h in history if "val_score" in h]
    assert len(scored) == 3
    for h in scored:
        if np.isfinite(h["val_D_stsp"]):
            want = h["val_D_stsp"] / floor["D_stsp"] + h["val_D_H"] / floor["D_H"]
            assert h["val_score"] == pytest.approx(want, rel=1e-9)
    best = int(np.argmin([h["val_score"] for h in scored]))
    assert int(state.best_step) == scored[best]["step"] + 1
    _, step, extra = load_checkpoint(tmp_path / "best.eqx", state)
    assert step == int(state.best_step)
    assert extra["score"] == pytest.approx(scored[best]["val_score"])
    assert extra["D_H"] == pytest.approx(scored[best]["val_D_H"])
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["best_score"]


def test_bad_select_on_is_named(series):
    with pytest.raises(paratime.ConfigError, match="select_on"):
        dsr.FitSettings(select_on="D_H")
    with pytest.raises(ValueError, match="select_on"):
        make_validator(jnp.asarray(series[:300]), None, select_on="spectrum")
    with pytest.raises(ValueError, match="reference"):
        make_validator(jnp.asarray(series[:300]), None, select_on="both")
