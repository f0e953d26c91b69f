"""The GTF papers' protocol pieces: weight regularisation, sparse forcing (STF), no gradient
clipping, and the GTF code's evaluation run."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import paratime
import paratime.data
from paratime import dsr
from paratime.dsr._evaluate import gtf_free_run
from paratime.dsr._gtf import forcing_mask
from paratime.dsr._train import make_optimizer


@pytest.fixture(scope="module")
def series():
    return np.asarray(paratime.data.lorenz63(400, standardise=True, key=0), np.float64)


def test_latent_penalty_is_the_gtf_codes_l2_with_a_pulled_to_one(getkey):
    cell = dsr.ShallowPLRNN(3, 5, key=getkey())
    want = (
        jnp.sum((1 - cell.A) ** 2)
        + jnp.sum(cell.W1**2)
        + jnp.sum(cell.W2**2)
        + jnp.sum(cell.h1**2)
        + jnp.sum(cell.h2**2)
    )
    np.testing.assert_allclose(dsr.latent_penalty(cell), want, rtol=1e-12)
    plrnn = dsr.PLRNN(3, key=getkey())
    want = jnp.sum((1 - plrnn.A) ** 2) + jnp.sum(plrnn.W**2) + jnp.sum(plrnn.h**2)
    np.testing.assert_allclose(dsr.latent_penalty(plrnn), want, rtol=1e-12)


def test_observation_penalty_is_one_minus_the_condition_number_squared(getkey):
    obs = dsr.AffineObservation(3, 3, key=getkey())
    obs = eqx.tree_at(lambda o: o.B, obs, jnp.diag(jnp.array([4.0, 2.0, 1.0])))
    np.testing.assert_allclose(dsr.observation_penalty(obs), (1 - 4.0) ** 2, rtol=1e-6)
    assert float(dsr.observation_penalty(dsr.IdentityObservation(3, 3))) == 0.0


def test_regularization_enters_the_loss_and_the_log(series):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=6, key=jax.random.key(0))
    settings = dsr.FitSettings(steps=2, seq_len=30, batch_size=2)
    kwargs = dict(key=jax.random.key(1), solver=paratime.Sequential(), progress=False)
    _, plain = dsr.fit(model, jnp.asarray(series), settings, **kwargs)
    settings = settings.replace(latent_regularization=0.5)
    _, reg = dsr.fit(model, jnp.asarray(series), settings, **kwargs)
    penalty = 0.5 * float(dsr.latent_penalty(model.cell))
    np.testing.assert_allclose(reg[0]["regularization"], penalty, rtol=1e-6)
    np.testing.assert_allclose(reg[0]["loss"], plain[0]["loss"] + penalty, rtol=1e-6)
    assert "regularization" not in plain[0]


def test_forcing_mask_marks_every_kth_step():
    np.testing.assert_array_equal(forcing_mask(7, 3), [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(forcing_mask(3, 1), [1, 1, 1])


def test_sparse_teacher_forcing_replaces_the_state_every_kth_step(series, getkey):
    """α = 1 with τ = 3: z̃ is the data at t = 3, 6, ...; in between the model runs freely."""
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=6, key=getkey())
    x = jnp.asarray(series[:12])
    states, _ = model.forced_states(x, 1.0, paratime.Sequential(), interval=3)
    z = x[0]
    for t in range(1, 12):
        z = x[t] if t % 3 == 0 else model.cell(z, None)
        np.testing.assert_allclose(states[t], z, rtol=1e-10, atol=1e-12)
    # DEER solves the same recurrence (the cell's Jacobian is exact).
    deer, _ = model.forced_states(x, 1.0, paratime.DEER(), interval=3)
    np.testing.assert_allclose(deer, states, rtol=1e-8, atol=1e-10)


def test_sparse_gtf_cell_jacobian_matches_autodiff(getkey):
    inner = dsr.ShallowPLRNN(3, 5, key=getkey())
    cell = dsr.SparseGTFCell(inner, jnp.asarray(0.4), jnp.ones(3))
    h = jax.random.normal(getkey(), (3,))
    for w in (0.0, 1.0):
        x = jnp.concatenate([jax.random.normal(getkey(), (3,)), jnp.array([w])])
        _, jac = cell.value_and_jacobian(h, x)
        np.testing.assert_allclose(jac, jax.jacfwd(lambda z: cell(z, x))(h), rtol=1e-10)


def test_interval_one_is_plain_gtf(series, getkey):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=6, key=getkey())
    x = jnp.asarray(series[:40])
    a = model.gtf_loss(x, 0.3, paratime.Sequential(), interval=1)[0]
    b = model.gtf_loss(x, 0.3, paratime.Sequential())[0]
    assert float(a) == float(b)
    c = model.gtf_loss(x, 0.3, paratime.Sequential(), interval=4)[0]
    assert float(c) != float(a)


def test_no_gradient_clipping_is_plain_radam():
    opt = make_optimizer(1e-3, 10, clip=None)
    params = {"w": jnp.ones(2)}
    ref = optax.radam(optax.exponential_decay(1e-3, 10, 0.1))
    s1, s2 = opt.init(params), ref.init(params)
    for g in ([1e6, -3.0], [2.0, 5e5], [1.0, 1.0]):  # large gradients are not clipped
        grads = {"w": jnp.array(g)}
        u1, s1 = opt.update(grads, s1, params)
        u2, s2 = ref.update(grads, s2, params)
        np.testing.assert_allclose(u1["w"], u2["w"])


def test_gtf_evaluation_runs_from_the_first_point_and_drops_a_quarter(series, getkey):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=6, key=getkey())
    test = series[:200]
    run = gtf_free_run(model, test)
    assert run.shape == test.shape
    full = np.asarray(model.generate(model.observation.lift(jnp.asarray(test[0])), 249))
    np.testing.assert_allclose(run, full[49:], rtol=1e-10)  # 250 steps, the first 50 dropped
    metrics, x_gen = dsr.evaluate(model, test, protocol="gtf", lyapunov=False)
    np.testing.assert_allclose(x_gen, run)
    with pytest.raises(ValueError, match="protocol"):
        dsr.evaluate(model, test, protocol="nope")
