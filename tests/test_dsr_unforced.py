"""Forcing only some observed columns (`unforced`): the others run freely inside the forced
trajectory, for every solver and observation model, and the setting reaches training."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
import paratime.data
from paratime import dsr


@pytest.fixture(scope="module")
def series():
    x = paratime.data.slow_fast_lorenz(300, standardise=True, key=0)
    return np.asarray(x, np.float64)  # (x, y, z, u)


def _model(key, latent=6, observation="identity"):
    return dsr.build_model("shplrnn", 4, latent=latent, hidden=8, observation=observation, key=key)


@settings(max_examples=12, deadline=None)
@given(
    unforced=st.sets(st.integers(0, 3), max_size=4).map(lambda s: tuple(sorted(s))),
    alpha=st.floats(0.05, 1.0),
)
def test_unforced_columns_run_freely_and_the_others_are_forced(series, unforced, alpha):
    """z̃_t = F(z̃_{t-1}) + α (ẑ_t − F) on the forced columns, F(z̃_{t-1}) on the rest."""
    model = _model(jax.random.key(0))
    x = jnp.asarray(series[:25])
    states, _ = model.forced_states(x, alpha, paratime.Sequential(), unforced=unforced)
    forced = np.array([c < 4 and c not in unforced for c in range(6)], float)
    z = np.asarray(model.observation.lift(x[0]))
    for t in range(1, 25):
        f = np.asarray(model.cell(jnp.asarray(z), None))
        target = np.asarray(model.observation.lift(x[t]))
        z = f + alpha * forced * (target - f)
        np.testing.assert_allclose(states[t], z, rtol=1e-9, atol=1e-11)
    for solver in (paratime.DEER(), paratime.QuasiDEER(max_iters=200)):
        other, _ = model.forced_states(x, alpha, solver, unforced=unforced)
        np.testing.assert_allclose(other, states, rtol=1e-7, atol=1e-9)


def test_gradients_with_unforced_columns_match_autodiff_through_the_scan(series, getkey):
    model = _model(getkey())
    x = jnp.asarray(series[:40])

    def loss(m, solver):
        return m.gtf_loss(x, 0.3, solver, kappa=False, unforced=(3,))[0]

    params, static = eqx.partition(model, eqx.is_inexact_array)

    def scan_loss(p):
        m = eqx.combine(p, static)
        proj = m.observation.projector((3,))
        target = m.observation.lift(x[:-1])

        def step(z, t):
            f = m.cell(z, None)
            z = f + 0.3 * proj * (t - f)
            return z, z

        _, zs = jax.lax.scan(step, target[0], target[1:])
        zs = jnp.concatenate([target[:1], zs])
        pred = m.observation(jax.vmap(lambda z: m.cell(z, None))(zs))
        return jnp.mean((pred - x[1:]) ** 2)

    want = jax.grad(scan_loss)(params)
    for solver in (paratime.Sequential(), paratime.DEER()):
        got = eqx.filter_grad(lambda m: loss(m, solver))(model)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-10)
    # Leaving u unforced changes the loss: the setting is not ignored.
    assert float(loss(model, paratime.Sequential())) != float(
        model.gtf_loss(x, 0.3, paratime.Sequential(), kappa=False)[0]
    )


def test_affine_observation_forces_only_the_errors_of_forced_columns(getkey):
    obs = dsr.AffineObservation(6, 4, key=getkey())
    w = jnp.array([1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(
        obs.projector((1,)), jnp.linalg.pinv(obs.B) @ (w[:, None] * obs.B), rtol=1e-12
    )
    np.testing.assert_allclose(obs.projector(), jnp.linalg.pinv(obs.B) @ obs.B, rtol=1e-12)
    # With every column unforced the forced trajectory is the free run.
    model = _model(getkey(), observation="affine")
    x = jax.random.normal(getkey(), (12, 4))
    states, _ = model.forced_states(x, 0.7, paratime.DEER(), unforced=(0, 1, 2, 3))
    z = model.observation.lift(x[0])
    for t in range(1, 12):
        z = model.cell(z, None)
        np.testing.assert_allclose(states[t], z, rtol=1e-9, atol=1e-11)


def test_the_setting_parses_and_names_itself_when_wrong(series):
    assert dsr.FitSettings(unforced="3").unforced_columns() == (3,)
    assert dsr.FitSettings(unforced="2, 0").unforced_columns() == (0, 2)
    assert dsr.FitSettings(unforced=3).unforced_columns() == (3,)  # an int in TOML
    assert dsr.FitSettings().unforced_columns() == ()
    for bad in ("x", "1,1", "-1", ""):
        with pytest.raises(paratime.ConfigError, match="unforced"):
            dsr.FitSettings(unforced=bad)
    model = _model(jax.random.key(0))
    with pytest.raises(ValueError, match="unforced"):
        dsr.fit(
            model, jnp.asarray(series), dsr.FitSettings(steps=1, seq_len=20, unforced="4"),
            key=jax.random.key(1), progress=False,
        )  # fmt: skip


def test_training_with_an_unforced_column_differs_from_full_forcing(series):
    model = _model(jax.random.key(0))
    base = dsr.FitSettings(steps=3, seq_len=30, batch_size=2, gtf="0.5", validation_starts=1)
    kwargs = dict(key=jax.random.key(1), solver=paratime.Sequential(), progress=False)
    _, full = dsr.fit(model, jnp.asarray(series), base, **kwargs)
    _, free_u = dsr.fit(model, jnp.asarray(series), base.replace(unforced="3"), **kwargs)
    assert full[0]["loss"] != free_u[0]["loss"]
