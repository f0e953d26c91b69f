"""The PLRNN family, observation models and the GTF cell (paratime.dsr)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
import paratime.data
from helpers import tree_allclose
from paratime import dsr
from paratime.dsr import _gtf as dsr_gtf


def _cells(key):
    k = jax.random.split(key, 4)
    return {
        "plrnn": dsr.PLRNN(5, key=k[0]),
        "shplrnn": dsr.ShallowPLRNN(5, 16, key=k[1]),
        "clipped": dsr.ShallowPLRNN(5, 16, clipped=True, key=k[2]),
        "alrnn": dsr.ALRNN(5, 2, key=k[3]),
    }


@pytest.mark.parametrize("name", ["plrnn", "shplrnn", "clipped", "alrnn"])
def test_jacobians_match_autodiff(name, getkey):
    cell = _cells(getkey())[name]

    @jax.jit
    @jax.vmap
    def check(z):
        value, jac = cell.value_and_jacobian(z, None)
        _, diag = cell.value_and_jacobian_diagonal(z, None)
        return value, jac, diag, cell(z, None), jax.jacfwd(lambda h: cell(h, None))(z)

    value, jac, diag, ref_value, ref_jac = check(2 * jax.random.normal(getkey(), (8, 5)))
    assert tree_allclose(value, ref_value)
    assert tree_allclose(jac, ref_jac)
    assert tree_allclose(diag, jnp.diagonal(jac, axis1=1, axis2=2))


def test_shallow_plrnn_formula_and_clipping(getkey):
    cell = dsr.ShallowPLRNN(4, 8, key=getkey())
    clipped = dsr.ShallowPLRNN(4, 8, clipped=True, key=getkey())
    z = jax.random.normal(getkey(), (4,))
    expected = cell.A * z + cell.W1 @ jax.nn.relu(cell.W2 @ z + cell.h2) + cell.h1
    assert tree_allclose(cell(z, None), expected)
    # The clipped nonlinearity is bounded: |ReLU(u + h2) - ReLU(u)| <= |h2| for any z.
    big = 1e6 * jax.random.normal(getkey(), (4,))
    phi = clipped(big, None) - clipped.A * big - clipped.h1
    bound = jnp.abs(clipped.W1) @ jnp.abs(clipped.h2)
    assert jnp.all(jnp.abs(phi) <= bound + 1e-6)


def test_alrnn_is_linear_on_the_first_units(getkey):
    cell = dsr.ALRNN(6, 2, key=getkey())
    z = -jnp.abs(jax.random.normal(getkey(), (6,)))  # all negative: ReLU units are off
    w = cell.W * (1 - jnp.eye(6))
    expected = cell.A * z + w[:, :4] @ z[:4] + cell.h
    assert tree_allclose(cell(z, None), expected)
    with pytest.raises(ValueError, match="num_relu"):
        dsr.ALRNN(3, 4, key=getkey())


def test_initialisation(getkey):
    k = dsr.normalized_positive_definite(6, key=getkey())
    eig = jnp.linalg.eigvalsh(k)
    assert tree_allclose(k, k.T) and jnp.all(eig > 0) and jnp.isclose(eig.max(), 1.0)
    cell = dsr.ShallowPLRNN(6, 40, key=getkey())
    assert jnp.all((cell.A > 0) & (cell.A <= 1))
    assert jnp.max(jnp.abs(cell.W1)) <= 1 / np.sqrt(40) and jnp.max(jnp.abs(cell.W2)) <= 1 / 6**0.5
    plrnn = dsr.PLRNN(6, key=getkey())
    assert tree_allclose(jnp.diagonal(plrnn.W), jnp.zeros(6))
    with pytest.raises(ValueError, match="hidden_size"):
        dsr.ShallowPLRNN(3, 0, key=getkey())


def test_observation_models(getkey):
    ident = dsr.IdentityObservation(5, 3)
    x = jax.random.normal(getkey(), (7, 3))
    assert tree_allclose(ident(ident.lift(x)), x)
    assert tree_allclose(ident.projector(), jnp.array([1.0, 1, 1, 0, 0]))
    aff = dsr.AffineObservation(5, 3, key=getkey())
    assert tree_allclose(aff(aff.lift(x)), x, atol=1e-8)
    p = aff.projector()
    assert tree_allclose(p @ p, p) and tree_allclose(jnp.trace(p), jnp.asarray(3.0))
    with pytest.raises(ValueError, match="latent_size"):
        dsr.IdentityObservation(2, 3)


@pytest.mark.parametrize("affine", [False, True])
def test_gtf_cell_formula_and_jacobian(affine, getkey):
    cell = dsr.ShallowPLRNN(4, 10, key=getkey())
    obs = dsr.AffineObservation(4, 4, key=getkey()) if affine else dsr.IdentityObservation(4, 4)
    gtf = dsr.GTFCell(cell, jnp.asarray(0.3), obs.projector())
    z, target = jax.random.normal(getkey(), (2, 4))
    # With M = d the projector is the identity: z' = (1 - α) F(z) + α ẑ.
    assert tree_allclose(gtf(z, target), 0.7 * cell(z, None) + 0.3 * target, atol=1e-8)
    value, jac = gtf.value_and_jacobian(z, target)
    assert tree_allclose(jac, jax.jacfwd(lambda h: gtf(h, target))(z), atol=1e-8)
    assert tree_allclose(jac, 0.7 * cell.value_and_jacobian(z, None)[1], atol=1e-8)
    _, diag = gtf.value_and_jacobian_diagonal(z, target)
    assert tree_allclose(diag, jnp.diagonal(jac), atol=1e-8)


def test_gtf_unroll_deer_equals_sequential(getkey):
    model = dsr.DSRModel(dsr.ShallowPLRNN(3, 20, key=getkey()), dsr.IdentityObservation(3, 3))
    x = jnp.asarray(paratime.data.lorenz63(200, standardise=True, key=0), jnp.float64)

    @jax.jit
    def solve_and_grad(model):
        out = {}
        for name, solver in (
            ("sequential", paratime.Sequential()),
            ("deer", paratime.DEER()),
            ("quasideer", paratime.QuasiDEER()),
        ):
            states, stats = model.forced_states(x, 0.2, solver)
            grad = jax.grad(lambda m: m.gtf_loss(x, 0.2, solver)[0])(model)
            out[name] = (states, stats["failed"], grad)
        return out

    out = solve_and_grad(model)
    ref_states, _, ref_grad = out["sequential"]
    for name in ("deer", "quasideer"):
        states, failed, grad = out[name]
        assert not bool(failed)
        assert tree_allclose(states, ref_states, rtol=1e-6, atol=1e-7)
        assert tree_allclose(grad, ref_grad, rtol=1e-5, atol=1e-8)


def test_newton_iterations_drop_as_alpha_grows():
    # The GTF Jacobian is (1 - α) J_F: stronger forcing makes Newton converge faster.
    cell = dsr.ShallowPLRNN(3, 20, key=jax.random.key(3))
    model = dsr.DSRModel(cell, dsr.IdentityObservation(3, 3))
    x = jnp.asarray(paratime.data.lorenz63(1000, standardise=True, key=1), jnp.float64)
    solve = jax.jit(lambda a: model.forced_states(x, a, paratime.DEER(max_iters=100))[1])
    stats = [solve(a) for a in (0.1, 0.3, 0.9)]
    iters = [int(s["num_steps"]) for s in stats]
    assert not any(bool(s["failed"]) for s in stats)
    assert iters[0] > iters[1] > iters[2], iters


def test_adaptive_alpha_rule():
    a = jnp.asarray(0.2)
    # κ = 2 -> α_est = 0.5 > α: jump up.
    assert jnp.isclose(dsr.adaptive_alpha(a, jnp.asarray(2.0)), 0.5)
    # κ = 1.1 -> α_est = 1/11 < α: decay towards it.
    est = 1 - 1 / 1.1
    assert jnp.isclose(dsr.adaptive_alpha(a, jnp.asarray(1.1), gamma=0.9), 0.9 * 0.2 + 0.1 * est)
    # A contracting model (κ < 1) gives α_est = 0.
    assert jnp.isclose(dsr.adaptive_alpha(a, jnp.asarray(0.5), gamma=0.0), 0.0)


def test_jacobian_kappa_bounds_product_norm(getkey):
    cell = dsr.ShallowPLRNN(3, 10, key=getkey())
    states = jax.random.normal(getkey(), (20, 3))
    kappa = dsr.jacobian_kappa(cell, states)
    jacs = jax.vmap(lambda z: cell.value_and_jacobian(z, None)[1])(states)
    prod = jnp.linalg.multi_dot(list(jacs[::-1]))
    assert jnp.linalg.norm(prod, 2) ** (1 / 20) <= kappa + 1e-9


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 10),
    gap=st.sampled_from([0.0, 1e-6, 1e-2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_spectral_norms_match_svd(m, gap, seed):
    # Random matrices with a chosen relative gap between the two largest singular values
    # (0: equal), including rank-deficient ones: the power iteration's value matches the SVD.
    key = jax.random.key(seed)
    u, _ = jnp.linalg.qr(jax.random.normal(key, (4, m, m)))
    v, _ = jnp.linalg.qr(jax.random.normal(jax.random.fold_in(key, 1), (4, m, m)))
    s = jnp.sort(jax.random.uniform(jax.random.fold_in(key, 2), (4, m)), axis=-1)[:, ::-1]
    s = s.at[:, 0].set(2.0)
    if m > 1:
        s = s.at[:, 1].set(2.0 * (1 - gap))
    jac = u @ (s[..., None] * v)
    expected = jnp.linalg.svd(jac, compute_uv=False)[..., 0]
    # Within the gap where it is tiny (the squarings cannot separate σ₁ and σ₂ there).
    rtol = max(1e-9, 2 * gap) if gap < 1e-4 else 1e-9
    assert jnp.allclose(dsr_gtf.spectral_norms(jac), expected, rtol=rtol)


def test_kappa_only_on_alpha_update_steps(getkey):
    model = dsr.build_model("shplrnn", 3, latent=3, hidden=8, key=getkey())
    x = jax.random.normal(getkey(), (30, 3))
    _, aux = model.gtf_loss(x, 0.2, paratime.Sequential(), kappa=jnp.asarray(False))
    assert jnp.isnan(aux["kappa"])
    _, aux = model.gtf_loss(x, 0.2, paratime.Sequential(), kappa=jnp.asarray(True))
    _, ref = model.gtf_loss(x, 0.2, paratime.Sequential())
    # (equal up to rounding: compiled inside `lax.cond`, the sums may run in another order)
    assert jnp.isfinite(aux["kappa"]) and jnp.allclose(aux["kappa"], ref["kappa"], rtol=1e-12)


def test_linear_ssm_comparison_model(getkey):
    model = dsr.LinearSSM(3, 8, 16, key=getkey())
    x = jnp.asarray(paratime.data.lorenz63(100, standardise=True, key=0), jnp.float64)

    @eqx.filter_jit
    def run(model):
        loss, _ = model.gtf_loss(x)
        ref, _ = model.gtf_loss(x, solver=paratime.Sequential())
        grads = eqx.filter_grad(lambda m: m.gtf_loss(x)[0])(model)
        return loss, ref, grads, model.predict(x[:20], 7)

    loss, ref, grads, pred = run(model)
    # The parallel (Auto -> one linear scan) loss equals the sequential one.
    assert jnp.isfinite(loss) and jnp.isclose(loss, ref)
    assert all(jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    assert pred.shape == (7, 3) and jnp.all(jnp.isfinite(pred))


def test_build_model_errors(getkey):
    with pytest.raises(ValueError, match="model"):
        dsr.build_model("gru", 3, latent=3, hidden=4, key=getkey())
    with pytest.raises(ValueError, match="observation"):
        dsr.build_model("plrnn", 3, latent=3, hidden=4, observation="linear", key=getkey())
    m = dsr.build_model("alrnn", 3, latent=6, hidden=4, key=getkey())
    assert m.cell.num_relu == 3
