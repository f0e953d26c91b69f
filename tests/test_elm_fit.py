"""ELM fitting end to end: exact on noiseless linear AR series, bad input, save/load, BPTT."""

import jax
import numpy as np
import pytest

import paratime
from paratime import elm
from paratime.elm import fit_bptt, load_model, save_model

WINDOW, HIDDEN = 5, 6


def _rotation_series(T=150, angle=0.3):
    """A noiseless VAR(1): x_t = R x_{t-1} with R a rotation (it neither grows nor decays)."""
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    x = [np.array([1.0, 0.0])]
    for _ in range(T - 1):
        x.append(R @ x[-1])
    return np.stack(x)


@pytest.mark.parametrize("arch", elm.ARCHITECTURES)
def test_noiseless_linear_var1_is_fitted_exactly(arch):
    data = elm.prepare(elm.autoregressive_task(_rotation_series()), WINDOW)
    model, info = elm.fit(
        data, elm.FitSettings(arch=arch, hidden=HIDDEN, lam=0.0), key=jax.random.key(0)
    )
    pred = model.predict_normalised(data.inputs, data.feedback)  # every window, test included
    assert float(np.max(np.abs(pred - data.targets))) < 1e-8
    assert info["train_seconds"] > 0 and info["rows"] == len(data.split[0]) + len(data.split[1])
    if arch == "jordan":  # the closed-loop forecast is exact too (one arch: it compiles slowly)
        metrics = elm.evaluate(model, data, horizon=10)
        assert metrics["rmse"] < 1e-8 and metrics["rmse_multistep"] < 1e-7, metrics


def test_noiseless_ar3_is_fitted_exactly_by_narmax_with_gcv():
    # x_t = 1 + sin(0.4 t) satisfies x_t = a1 x_{t-1} + a2 x_{t-2} + a3 x_{t-3} exactly.
    x = (1 + np.sin(0.4 * np.arange(200)))[:, None]
    data = elm.prepare(elm.autoregressive_task(x), WINDOW)
    # the centred lags of a sinusoid span only two dimensions: H is rank deficient
    with pytest.warns(elm.IllConditionedWarning, match="condition number"):
        model, info = elm.fit(
            data, elm.FitSettings(arch="narmax", hidden=HIDDEN, lags=3), key=jax.random.key(1)
        )
    metrics = elm.evaluate(model, data, horizon=20)
    assert metrics["nrmse"] < 1e-5 and metrics["nrmse_multistep"] < 1e-4, (metrics, info)
    # without the direct links the tanh layer can only approximate the linear map
    approx, _ = elm.fit(
        data, elm.FitSettings(arch="narmax", hidden=HIDDEN, direct=False), key=jax.random.key(1)
    )
    assert elm.evaluate(approx, data)["nrmse"] > 10 * metrics["nrmse"]


def test_methods_and_lambda_choices_give_the_same_model_on_easy_data():
    x = np.sin(0.2 * np.arange(300))[:, None] + 0.01 * np.random.default_rng(0).normal(
        size=(300, 1)
    )
    data = elm.prepare(elm.autoregressive_task(x), WINDOW)
    preds = {}
    for method in elm.METHODS:
        settings = elm.FitSettings(arch="gru", hidden=HIDDEN, lam=1e-3, method=method)
        model, info = elm.fit(data, settings, key=jax.random.key(2))
        preds[method] = np.asarray(model.predict_normalised(data.inputs, data.feedback))
    np.testing.assert_allclose(preds["qr"], preds["svd"], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(preds["cholesky"], preds["svd"], rtol=1e-6, atol=1e-7)
    _, info = elm.fit(
        data, elm.FitSettings(arch="gru", hidden=HIDDEN, lam="validation"), key=jax.random.key(2)
    )
    assert info["lam"] > 0


def test_bad_input_errors():
    x = np.sin(np.arange(50.0))[:, None]
    bad = x.copy()
    bad[17, 0] = np.nan
    with pytest.raises(ValueError, match="NaN at row 17"):
        elm.autoregressive_task(bad)
    bad[17, 0] = np.inf
    with pytest.raises(ValueError, match="Inf at row 17"):
        elm.autoregressive_task(bad)
    task = elm.autoregressive_task(x)
    with pytest.raises(ValueError, match="`window`=60 is longer than the series"):
        elm.prepare(task, 60)
    with pytest.raises(ValueError, match="`window`=50 is longer"):
        elm.windows(task, 50)  # 50 steps give only 49 (input, target) pairs
    with pytest.raises(ValueError, match="positive integer"):
        elm.windows(task, 0)
    with pytest.raises(ValueError, match="training part"):
        elm.prepare(task, 45)
    with pytest.raises(ValueError, match="`arch`"):
        elm.fit(elm.prepare(task, 5), elm.FitSettings(arch="rnn", hidden=4), key=jax.random.key(0))
    with pytest.raises(ValueError, match="same length"):
        elm.io_task(x, x[:-1])


def test_save_and_load_round_trip(tmp_path):
    x = np.sin(0.3 * np.arange(120))[:, None]
    data = elm.prepare(elm.autoregressive_task(x), WINDOW)
    model, _ = elm.fit(
        data, elm.FitSettings(arch="narmax", hidden=HIDDEN, lags=2), key=jax.random.key(3)
    )
    save_model(tmp_path / "m.eqx", model, lags=2)
    loaded = load_model(tmp_path / "m.eqx")
    np.testing.assert_array_equal(
        loaded.predict_normalised(data.inputs, data.feedback),
        model.predict_normalised(data.inputs, data.feedback),
    )
    assert (loaded.arch, loaded.window, loaded.in_mean) == (model.arch, model.window, model.in_mean)
    assert loaded.bounds == model.bounds and model.bounds is not None


def test_io_task_free_run_uses_own_outputs():
    u, y = paratime.data.narma10(300, key=0)
    data = elm.prepare(elm.io_task(u, y), 10)
    model, _ = elm.fit(data, elm.FitSettings(arch="jordan", hidden=HIDDEN), key=jax.random.key(4))
    metrics = elm.evaluate(model, data)
    assert metrics["horizon"] == 0
    assert np.isfinite(metrics["rmse_multistep"]) and metrics["rmse_multistep"] != metrics["rmse"]


def test_bptt_is_solver_independent_and_improves_on_the_initial_readout():
    x = np.sin(0.3 * np.arange(150))[:, None]
    data = elm.prepare(elm.autoregressive_task(x), WINDOW)
    kw = dict(arch="elman", hidden=4, key=jax.random.key(5), max_steps=20, eval_every=10,
              batch_size=16, learning_rate=1e-2)  # fmt: skip
    seq, info = fit_bptt(data, solver=paratime.Sequential(), **kw)
    par, _ = fit_bptt(data, solver=paratime.DEER(), **kw)
    assert info["steps"] == 20 and info["best_val_mse"] < 0.5  # the zero readout has MSE ≈ 1
    for a, b in zip(jax.tree_util.tree_leaves(seq), jax.tree_util.tree_leaves(par)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
