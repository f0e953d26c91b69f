"""Closed-loop ELM forecasts: bounded by default, λ chosen on the multi-step error, and a
loop that blows up is flagged, not returned silently."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from paratime import elm


def test_default_forecast_stays_bounded_where_the_gcv_loop_diverged():
    # sunspots with NARMAX (32 units, window 16) is a documented divergence: with λ from
    # GCV its 20-step closed loop reached an NRMSE of 130
    data = elm.prepare(elm.autoregressive_task(paratime.data.load("sunspots")), 16)
    key = jax.random.key(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", elm.IllConditionedWarning)
        old, _ = elm.fit(data, elm.FitSettings(arch="narmax", hidden=32, lam="gcv"), key=key)
        with pytest.warns(elm.ForecastDivergedWarning, match="closed-loop runs"):
            before = elm.evaluate(old, data, bounded=False)
        model, info = elm.fit(data, elm.FitSettings(arch="narmax", hidden=32), key=key)
    assert before["nrmse_multistep"] > 10 and before["multistep_diverged"] > 0
    assert info["lam_rule"] == "multistep" and model.bounds is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", elm.ForecastDivergedWarning)
        after = elm.evaluate(model, data)
    assert after["multistep_diverged"] == 0
    assert after["nrmse_multistep"] < 1.0  # better than predicting the mean
    assert after["nrmse_multistep"] < after["nrmse_multistep_persistence"]
    lo, hi = (np.asarray(b) for b in model.bounds)
    test = data.split[2]
    out = elm.forecast(model, jnp.asarray(data.inputs[test[:8]]), 50)
    assert np.all(np.isfinite(out.values)) and not np.any(out.diverged)
    pad = elm.CONTEXT_MARGIN * (hi - lo)
    assert np.all(out.values >= lo - pad - 1e-12) and np.all(out.values <= hi + pad + 1e-12)


def _ar_data(T=400, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sin(0.25 * np.arange(T)) + 0.1 * rng.normal(size=T)
    return elm.prepare(elm.autoregressive_task(x[:, None]), 6)


def test_multistep_lambda_is_the_argmin_of_the_closed_loop_validation_error():
    data = _ar_data()
    key = jax.random.key(1)
    model, info = elm.fit(
        data, elm.FitSettings(arch="gru", hidden=8, lam="multistep", horizon=10), key=key
    )
    grid, scores = np.asarray(info["lam_grid"]), np.asarray(info["lam_scores"])
    assert info["lam"] == grid[np.argmin(scores)]
    assert scores.min() < scores.max()  # the criterion does distinguish the candidates
    # each score is the NRMSE of a 10-step forecast on validation with the readout fitted on
    # the training windows alone: recompute two of them from scratch
    train, val, _ = data.split
    H = model.hidden(jnp.asarray(data.inputs[train]), jnp.asarray(data.feedback[train]))
    starts = np.unique(np.linspace(0, len(val) - 10, min(32, len(val) - 9)).astype(int))
    truth = np.stack([data.targets[val[o : o + 10]] for o in starts])
    for i in (0, int(np.argmin(scores))):
        beta, b, _ = elm.ridge(H, data.targets[train], float(grid[i]), method="svd")
        m = eqx.tree_at(lambda m: (m.beta, m.intercept), model, (beta, b))
        pred = elm.forecast(m, jnp.asarray(data.inputs[val[starts]]), 10).values
        nrmse = np.sqrt(np.mean((np.asarray(pred) - truth) ** 2)) / truth.std()
        np.testing.assert_allclose(scores[i], nrmse, rtol=1e-6)
    # the final readout is refitted on training plus validation with the chosen λ
    assert info["rows"] == len(train) + len(val)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**16), st.floats(1e-6, 1e2))
def test_ridge_path_matches_ridge(seed, lam):
    rng = np.random.default_rng(seed)
    H, Y = rng.normal(size=(40, 5)), rng.normal(size=(40, 2))
    lams, betas, intercepts = elm.ridge_path(H, Y, [lam])
    beta, b, _ = elm.ridge(H, Y, lam, method="svd")
    np.testing.assert_allclose(betas[0], beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercepts[0], b, rtol=1e-8, atol=1e-10)


def _exploding(data, gain):
    """A GRU-ELM whose readout is the direct link alone with gain `gain`: ŷ_{t+1} = gain·x_t."""
    model, _ = elm.fit(data, elm.FitSettings(arch="gru", hidden=4, lam=1.0), key=jax.random.key(2))
    beta = jnp.zeros_like(model.beta).at[-1, 0].set(gain)
    return eqx.tree_at(lambda m: (m.beta, m.intercept), model, (beta, jnp.zeros(1)))


def test_a_diverging_loop_is_flagged_and_the_bounded_loop_is_clipped():
    data = _ar_data()
    model = _exploding(data, 3.0)  # grows 3× per step: 3^30 after 30 steps
    ctx = jnp.asarray(data.inputs[data.split[2][:5]])
    free = elm.forecast(model, ctx, 30, bounded=False)
    assert np.all(np.asarray(free.diverged)) and np.all(np.asarray(free.clipped) == 0)
    held = elm.forecast(model, ctx, 30)
    assert not np.any(np.asarray(held.diverged)) and np.all(np.asarray(held.clipped) > 20)
    with pytest.warns(elm.ForecastDivergedWarning):
        metrics = elm.evaluate(model, data, bounded=False)
    assert metrics["multistep_diverged"] > 0
    nan_model = _exploding(data, float("nan"))
    assert np.all(np.asarray(elm.forecast(nan_model, ctx, 3).diverged))  # clipping keeps NaN


def test_a_stable_loop_is_not_flagged():
    data = _ar_data()
    out = elm.forecast(_exploding(data, 0.5), jnp.asarray(data.inputs[data.split[2][:5]]), 30)
    assert not np.any(np.asarray(out.diverged)) and np.all(np.asarray(out.clipped) == 0)


def test_evaluate_reports_the_mean_and_persistence_baselines():
    data = _ar_data()
    model = _exploding(data, 1.0)  # ŷ_{t+1} = x_t is persistence itself
    metrics = elm.evaluate(model, data, horizon=10)
    np.testing.assert_allclose(metrics["nrmse"], metrics["nrmse_persistence"], rtol=1e-10)
    np.testing.assert_allclose(
        metrics["nrmse_multistep"], metrics["nrmse_multistep_persistence"], rtol=1e-10
    )
    assert 0.9 < metrics["nrmse_mean"] < 1.2 and 0.9 < metrics["nrmse_multistep_mean"] < 1.2


def test_output_bounds_and_bad_options():
    lo, hi = elm.output_bounds(np.array([[0.0, -1.0], [2.0, 1.0]]), margin=0.5)
    assert lo == (-1.0, -2.0) and hi == (3.0, 2.0)
    with pytest.raises(ValueError, match="margin"):
        elm.output_bounds(np.zeros((3, 1)), margin=-1)
    with pytest.raises(ValueError, match="finite"):
        elm.output_bounds(np.array([[np.nan]]))
    data = _ar_data()
    with pytest.raises(ValueError, match="`lam`"):
        elm.fit(data, elm.FitSettings(arch="gru", hidden=4, lam="one-step"), key=jax.random.key(0))
    unbounded, _ = elm.fit(
        data, elm.FitSettings(arch="gru", hidden=4, bounds_margin=None), key=jax.random.key(0)
    )
    assert unbounded.bounds is None
