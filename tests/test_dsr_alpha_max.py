"""An upper bound on the adaptive forcing strength (`alpha_max`): aGTF's α never exceeds it,
at step 0, in its updates, or when an overflowing step makes it force harder."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime.dsr._train import initial_alpha


@pytest.fixture(scope="module")
def series():
    return jnp.asarray(paratime.data.lorenz63(400, standardise=True, key=0), jnp.float64)


def test_the_update_stops_at_the_maximum():
    alpha, kappa = jnp.asarray(0.1), jnp.asarray(10.0)  # α_est = 0.9
    assert float(dsr.adaptive_alpha(alpha, kappa)) == pytest.approx(0.9)
    assert float(dsr.adaptive_alpha(alpha, kappa, maximum=0.3)) == pytest.approx(0.3)
    # Below the maximum the bound changes nothing.
    low = jnp.asarray(1.25)  # α_est = 0.2
    assert float(dsr.adaptive_alpha(alpha, low, maximum=0.3)) == pytest.approx(0.2)


def _alphas(series, scale, alpha_max, steps=10):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=jax.random.key(0))
    model = eqx.tree_at(lambda m: m.cell.A, model, jnp.full(3, scale, jnp.float32))
    settings = dsr.FitSettings(steps=steps, seq_len=30, batch_size=4, alpha_max=alpha_max)
    history = dsr.fit(
        model, series, settings, key=jax.random.key(1), solver=paratime.Sequential(),
        progress=False,
    )[1]  # fmt: skip
    return np.array([r["alpha"] for r in history]), np.array([r["skipped"] for r in history])


def test_an_expanding_model_is_forced_at_most_alpha_max(series):
    free, _ = _alphas(series, 2.0, 1.0)
    capped, _ = _alphas(series, 2.0, 0.2)
    assert free.max() > 0.4  # the bound is what holds α down
    assert capped.max() <= 0.2 + 1e-6
    assert capped[0] == pytest.approx(0.2)


def test_a_skipped_step_does_not_force_past_alpha_max(series):
    # So expanding that every forced window overflows: each step is skipped, and α grows
    # towards 1 without the bound.
    free, skipped = _alphas(series, 1e30, 1.0, steps=4)
    assert skipped.all() and free[-1] > 0.9
    capped, skipped = _alphas(series, 1e30, 0.25, steps=4)
    assert skipped.all() and capped.max() <= 0.25 + 1e-6


@pytest.mark.parametrize(("alpha0", "alpha_max"), [(0.1, 1.5), (0.1, -0.1), (0.1, True)])
def test_a_bad_value_names_alpha_max(alpha0, alpha_max):
    with pytest.raises(paratime.ConfigError, match="alpha_max"):
        dsr.FitSettings(alpha0=alpha0, alpha_max=alpha_max)


def test_alpha0_above_alpha_max_names_both():
    with pytest.raises(paratime.ConfigError, match=r"alpha0.*alpha_max=0\.2"):
        dsr.FitSettings(alpha0=0.5, alpha_max=0.2)
    with pytest.raises(ValueError, match="alpha_max"):
        initial_alpha(None, jnp.zeros((5, 3)), "adaptive", 0.5, 0.2)
