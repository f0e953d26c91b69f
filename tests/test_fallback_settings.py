"""The failure policy as a setting of the applications: the `fallback` field of
`dsr.FitSettings` (and so of the DSR config) and of the LM config (`--fallback` on their
command lines)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime._names import fallback_policy
from paratime.dsr import TrainConfig
from paratime.lm import LMConfig, make_model


@pytest.fixture(scope="module")
def series():
    return jnp.asarray(paratime.data.lorenz63(300, standardise=True, key=0), jnp.float64)


def _fit(series, solver, fallback, model="shplrnn"):
    net = dsr.build_model(model, 3, latent=3, hidden=6, key=jax.random.key(0))
    settings = dsr.FitSettings(steps=4, seq_len=40, batch_size=2, gtf="0.2", fallback=fallback)
    _, history = dsr.fit(
        net, series, settings, key=jax.random.key(1), solver=solver, progress=False
    )
    return history


def test_dsr_fallback_finishes_failed_solves_exactly(series):
    # DEER with one iteration fails on every window; the sequential fallback finishes them, so
    # the run equals a Sequential one, and the `failed` metric counts the failures.
    failing = paratime.DEER(max_iters=1)
    ref = _fit(series, paratime.Sequential(), "sequential")
    finished = _fit(series, failing, "sequential")
    np.testing.assert_allclose([h["loss"] for h in finished], [h["loss"] for h in ref], rtol=1e-9)
    assert all(h["failed"] == 1.0 for h in finished)
    assert all(h["failed"] == 0.0 for h in ref)
    kept = _fit(series, failing, "none")  # no fallback: the failed states are used
    assert all(h["failed"] == 1.0 for h in kept)
    assert abs(kept[0]["loss"] - ref[0]["loss"]) > 1e-6


@pytest.mark.parametrize("model", dsr.MODELS)
def test_every_dsr_model_trains_with_a_fallback(series, model):
    history = _fit(series, paratime.Auto(), "sequential", model=model)
    assert len(history) == 4 and all(np.isfinite(h["loss"]) for h in history)


def test_bad_fallback_names_the_argument(series):
    with pytest.raises(ValueError, match="fallback"):
        _fit(series, paratime.Sequential(), "scan")
    with pytest.raises(ValueError, match="fallback"):
        TrainConfig(data="lorenz63", fallback="scan")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="fallback"):
        LMConfig(fallback="scan")  # pyright: ignore[reportArgumentType]


def test_config_names_spell_the_policies():
    assert [fallback_policy(n) for n in ("sequential", "elk", "none")] == [
        "sequential",
        "elk",
        None,
    ]
    assert TrainConfig(data="lorenz63").fallback == "sequential"
    assert "fallback" in TrainConfig.resumable and "fallback" in LMConfig.resumable


def test_lm_layers_take_the_configs_policy():
    config = LMConfig(dim=8, hidden_size=8, depth=1, context=16, fallback="none")
    model = make_model(config)
    layers = [m for m in jax.tree.leaves(model, is_leaf=_is_rnn) if _is_rnn(m)]
    assert layers and all(m.fallback is None for m in layers)
    model = make_model(config.replace(fallback="elk"))
    assert all(m.fallback == "elk" for m in jax.tree.leaves(model, is_leaf=_is_rnn) if _is_rnn(m))


def _is_rnn(x):
    return isinstance(x, paratime.nn.RNN)
