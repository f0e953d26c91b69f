"""The latent units the data do not determine, as the GTF code treats them: a learnt estimate
L x where a window or a free run starts (`hidden_estimate`), and forcing them towards 0
(`partial_forcing = false`); for every solver, with exact gradients, and through training,
the run directory and evaluation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

import paratime
import paratime.data
from paratime import dsr
from paratime.cli import app
from paratime.dsr._evaluate import gtf_free_run
from paratime.dsr._restore import build_from_config


@pytest.fixture(scope="module")
def series():
    x = paratime.data.lorenz63(300, standardise=True, key=0)
    return np.asarray(x, np.float64)


def _model(key, latent=6, observation="identity", hidden_estimate=True):
    return dsr.build_model(
        "shplrnn", 3, latent=latent, hidden=8, observation=observation,
        hidden_estimate=hidden_estimate, key=key,
    )  # fmt: skip


def test_the_hidden_units_start_at_the_learnt_estimate(getkey):
    obs = dsr.IdentityObservation(5, 2, hidden_estimate=True, key=getkey())
    assert obs.L is not None and obs.L.shape == (3, 2)
    assert np.all(np.abs(obs.L) <= 1 / np.sqrt(2))
    x = jnp.array([0.5, -2.0])
    np.testing.assert_allclose(obs.initial_state(x), jnp.concatenate([x, obs.L @ x]))
    np.testing.assert_array_equal(obs.lift(x), [0.5, -2.0, 0.0, 0.0, 0.0])  # the target
    assert dsr.IdentityObservation(5, 2).initial_state(x).tolist() == [0.5, -2.0, 0, 0, 0]
    # Nothing hidden (M = d): no L, as in the GTF code.
    assert dsr.IdentityObservation(2, 2, hidden_estimate=True, key=getkey()).L is None
    with pytest.raises(ValueError, match="key"):
        dsr.IdentityObservation(5, 2, hidden_estimate=True)
    with pytest.raises(ValueError, match="hidden_estimate"):
        _model(getkey(), observation="affine")


@settings(max_examples=10, deadline=None)
@given(
    unforced=st.sets(st.integers(0, 2), max_size=3).map(lambda s: tuple(sorted(s))),
    alpha=st.floats(0.05, 1.0),
    partial=st.booleans(),
)
def test_forced_states_match_the_recurrence_for_every_solver(series, unforced, alpha, partial):
    """z̃_0 = [x_0; L x_0]; z̃_t = F + α m (ẑ_t − F), m = 1 on the observed units (not in
    `unforced`) and, without partial forcing, on the hidden units too (ẑ = 0 there)."""
    model = _model(jax.random.key(0))
    x = jnp.asarray(series[:25])
    states, _ = model.forced_states(
        x, alpha, paratime.Sequential(), unforced=unforced, partial=partial
    )
    mask = np.array([(c >= 3 and not partial) or (c < 3 and c not in unforced) for c in range(6)])
    z = np.asarray(model.observation.initial_state(x[0]))
    np.testing.assert_allclose(states[0], z)
    for t in range(1, 25):
        f = np.asarray(model.cell(jnp.asarray(z), None))
        target = np.concatenate([np.asarray(x[t]), np.zeros(3)])
        z = f + alpha * mask * (target - f)
        np.testing.assert_allclose(states[t], z, rtol=1e-9, atol=1e-11)
    for solver in (paratime.DEER(), paratime.QuasiDEER(max_iters=200)):
        other, _ = model.forced_states(x, alpha, solver, unforced=unforced, partial=partial)
        np.testing.assert_allclose(other, states, rtol=1e-7, atol=1e-9)


def test_full_teacher_forcing_zeroes_the_hidden_units(series):
    model = _model(jax.random.key(1))
    x = jnp.asarray(series[:20])
    full, _ = model.forced_states(x, 1.0, paratime.DEER(), partial=False)
    np.testing.assert_allclose(full[1:], np.pad(np.asarray(x[1:]), ((0, 0), (0, 3))), atol=1e-12)
    part, _ = model.forced_states(x, 1.0, paratime.DEER())
    assert np.abs(np.asarray(part[1:, 3:])).min() > 0  # partial forcing leaves them free


def test_gradients_match_autodiff_through_the_scan(series, getkey):
    model = _model(getkey())
    x = jnp.asarray(series[:40])
    lam = 1e-3
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def scan_loss(p):
        m = eqx.combine(p, static)
        mask = jnp.ones(6)
        target = jnp.pad(x[:-1], ((0, 0), (0, 3)))

        def step(z, t):
            f = m.cell(z, None)
            z = f + 0.3 * mask * (t - f)
            return z, z

        z0 = jnp.concatenate([x[0], m.observation.L @ x[0]])
        _, zs = jax.lax.scan(step, z0, target[1:])
        zs = jnp.concatenate([z0[None], zs])
        pred = jax.vmap(lambda z: m.cell(z, None))(zs)[:, :3]
        return jnp.mean((pred - x[1:]) ** 2) + lam * jnp.sum(m.observation.L**2)

    def loss(m, solver):
        value = m.gtf_loss(x, 0.3, solver, kappa=False, partial=False)[0]
        return value + dsr.regularization(m, observation=lam)

    want = jax.grad(scan_loss)(params)
    assert np.abs(np.asarray(want.observation.L)).max() > 1e-6  # L is trained
    for solver in (paratime.Sequential(), paratime.DEER()):
        got = eqx.filter_grad(lambda m: loss(m, solver))(model)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-10)


def test_affine_full_forcing_is_the_gtf_codes_convex_combination(getkey):
    """Not partial: z̃ = (1 − α) F + α pinv(B)(x − b) on every latent direction, also the
    null space of B (M > d), which partial forcing leaves free."""
    model = _model(getkey(), observation="affine", hidden_estimate=False)
    obs = model.observation
    np.testing.assert_allclose(obs.projector(partial=False), np.eye(6), atol=1e-12)
    w = jnp.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(
        obs.projector((1,), partial=False),
        np.eye(6) - jnp.linalg.pinv(obs.B) @ ((1 - w)[:, None] * obs.B),
        atol=1e-12,
    )
    x = jax.random.normal(getkey(), (10, 3))
    states, _ = model.forced_states(x, 0.4, paratime.DEER(), partial=False)
    z = obs.lift(x[0])
    for t in range(1, 10):
        z = 0.6 * model.cell(z, None) + 0.4 * obs.lift(x[t])
        np.testing.assert_allclose(states[t], z, rtol=1e-9, atol=1e-11)
    part, _ = model.forced_states(x, 0.4, paratime.DEER())
    assert np.abs(np.asarray(part - states)).max() > 1e-3


def test_the_observation_penalty_is_the_squared_norm_of_L(getkey):
    model = _model(getkey())
    want = float(jnp.sum(model.observation.L**2))
    assert want > 0
    assert float(dsr.observation_penalty(model.observation)) == pytest.approx(want)
    plain = _model(getkey(), hidden_estimate=False)
    assert float(dsr.observation_penalty(plain.observation)) == 0.0


def test_the_settings_reach_training(series):
    base = dsr.FitSettings(steps=3, seq_len=30, batch_size=2, gtf="0.5", validation_starts=1)
    kwargs = dict(key=jax.random.key(1), solver=paratime.Sequential(), progress=False)
    model = _model(jax.random.key(0))
    trained, part = dsr.fit(model, jnp.asarray(series), base, **kwargs)
    _, full = dsr.fit(model, jnp.asarray(series), base.replace(partial_forcing=False), **kwargs)
    assert part[0]["loss"] != full[0]["loss"]
    assert not np.allclose(trained.model.observation.L, model.observation.L)
    with pytest.raises(paratime.ConfigError, match="partial_forcing"):
        dsr.FitSettings(partial_forcing="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="partial_forcing"):
        dsr.make_dsr_step(jnp.asarray(series), None, seq_len=30, partial_forcing=1)  # type: ignore[arg-type]


def test_the_command_line_trains_loads_and_evaluates_the_estimate(lorenz_files, tmp_path):
    run = tmp_path / "run"
    args = [
        "dsr", "train", "--data", str(lorenz_files / "train.npy"), "--out", str(run),
        "--latent", "5", "--hidden", "8", "--steps", "4", "--seq-len", "20",
        "--batch-size", "2", "--hidden-estimate", "--no-partial-forcing", "--validation", "0",
        "--no-progress",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cfg, state, _, _ = dsr.load_run(run)
    assert cfg.hidden_estimate and not cfg.partial_forcing
    L = state.model.observation.L
    assert L is not None and L.shape == (2, 3)
    fresh = build_from_config(cfg, jax.random.split(jax.random.key(cfg.seed))[0])
    assert not np.allclose(L, fresh.observation.L)  # the trained L, not a new one
    test = np.load(lorenz_files / "test.npy")
    run_gtf = gtf_free_run(state.model, test[:60])
    z0 = state.model.observation.initial_state(jnp.asarray(test[0]))
    want = np.asarray(state.model.generate(z0, 74))[-60:]
    np.testing.assert_allclose(run_gtf, want, rtol=1e-5, atol=1e-6)
    bad = CliRunner().invoke(app, [*args[:-1], "--observation", "affine", "--no-progress"])
    assert bad.exit_code != 0 and "--hidden-estimate" in bad.output
