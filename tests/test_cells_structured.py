"""The structured cells (DiagonalGRU, DiagonalLSTM, BlockGRU, CfC, SLSTM): equations, exact
structured Jacobians against `jax.jacfwd`, trajectories, initialisation, argument checks."""

import math

import equinox as eqx
import jax
import jax.nn as jnn
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import paratime
from paratime.cells import GRU, SLSTM, BlockGRU, CfC, DiagonalGRU, DiagonalLSTM

# name -> (constructor from (D, N, option, key), admissible (D, N, option) triples, state shape)
SIZES = {
    "diagonal_gru": [(1, 1, 1), (2, 4, 2), (3, 2, 1), (4, 6, 2)],
    "diagonal_lstm": [(1, 1, 1), (2, 4, 2), (3, 2, 1), (4, 6, 2)],
    "block_gru": [(1, 3, 1), (2, 4, 2), (3, 6, 3), (2, 4, 4)],
    "cfc": [(1, 1, 0.5), (2, 4, 1.0), (3, 2, 2.0)],
    "slstm": [(1, 1, 1), (3, 3, 3), (2, 4, 2), (4, 6, 2)],
}


def make(name, D, N, option, key):
    if name == "diagonal_gru":
        return DiagonalGRU(D, N, num_heads=option, key=key)
    if name == "diagonal_lstm":
        return DiagonalLSTM(D, N, num_heads=option, key=key)
    if name == "block_gru":
        return BlockGRU(D, N, block_size=option, key=key)
    if name == "slstm":
        return SLSTM(D, N, num_heads=option, key=key)
    return CfC(D, N, timespan=option, key=key)


def state_shape(name, N):
    return {"diagonal_lstm": (N, 2), "slstm": (N, 3)}.get(name, (N,))


def random_state(name, N, key, scale=1.0):
    return scale * jax.random.normal(key, state_shape(name, N))


def dense(jac, N):
    """A structured Jacobian (diagonal (N,), block (K, k, k) or dense (N, N)) as (N, N)."""
    if jac.ndim == 1:
        return jnp.diag(jac)
    if jac.ndim == 3:
        return jsl.block_diag(*jac)
    assert jac.shape == (N, N)
    return jac


def expected_layout(name, cell, N):
    if name == "diagonal_lstm":
        return (N, 2, 2)
    if name == "block_gru":
        k = cell.block_size
        return (N // k, k, k)
    if name == "slstm":
        H = cell.num_heads
        return (H, 3 * N // H, 3 * N // H)
    return (N,)


# Reference steps written from the published equations, independently of the cells' code.
def reference_step(name, cell, h, x):
    if name == "diagonal_gru":
        H = cell.num_heads
        W = cell.weight_ih  # (3, H, N/H, D/H)
        xh = jnp.split(x, H)
        u = jnp.stack([jnp.concatenate([W[g, i] @ xh[i] for i in range(H)]) for g in range(3)])
        u = u + cell.bias
        a_z, a_r, a_h = cell.weight_hh
        z = jnn.sigmoid(a_z * h + u[0])
        r = jnn.sigmoid(a_r * h + u[1])
        cand = jnp.tanh(a_h * (r * h) + u[2])
        return (1 - z) * h + z * cand
    if name == "diagonal_lstm":
        H = cell.num_heads
        W = cell.weight_ih
        xh = jnp.split(x, H)
        u = jnp.stack([jnp.concatenate([W[g, i] @ xh[i] for i in range(H)]) for g in range(3)])
        u = u + cell.bias
        c, hh = h[:, 0], h[:, 1]
        a_f, a_c, a_o = cell.weight_hh
        p_f, p_o = cell.peephole
        f = jnn.sigmoid(a_f * hh + u[0] + p_f * c)
        c_new = f * c + (1 - f) * jnp.tanh(a_c * hh + u[1])
        o = jnn.sigmoid(a_o * hh + u[2] + p_o * c_new)
        return jnp.stack([c_new, o * jnp.tanh(c_new)], axis=1)
    if name == "block_gru":
        w_hh = jnp.concatenate([jsl.block_diag(*w) for w in cell.weight_hh])  # (3N, N)
        gi = jnp.split(cell.weight_ih @ x + cell.bias_ih, 3)
        gh = jnp.split(w_hh @ h + cell.bias_hh, 3)
        r, z = jnn.sigmoid(gi[0] + gh[0]), jnn.sigmoid(gi[1] + gh[1])
        n = jnp.tanh(gi[2] + r * gh[2])
        return (1 - z) * n + z * h
    if name == "slstm":
        # xLSTM's stabilised form with (c, n, m), from r = c/n and ℓ = log n + m (m = 0).
        r, ell, hh = h[:, 0], h[:, 1], h[:, 2]
        n, m = jnp.exp(ell), jnp.zeros_like(ell)
        c = r * n
        R = jnp.stack([jsl.block_diag(*w) for w in cell.weight_hh])  # (4, N, N)
        u = jnp.einsum("gnd,d->gn", cell.weight_ih, x) + R @ hh + cell.bias
        log_i, log_f = u[1], jnp.log(jnn.sigmoid(u[2]))
        m_new = jnp.maximum(log_f + m, log_i)
        i, f = jnp.exp(log_i - m_new), jnp.exp(log_f + m - m_new)
        c_new = f * c + i * jnp.tanh(u[0])
        n_new = f * n + i
        h_new = jnn.sigmoid(u[3]) * c_new / n_new
        return jnp.stack([c_new / n_new, jnp.log(n_new) + m_new, h_new], axis=1)
    u = jnp.einsum("gnd,d->gn", cell.weight_ih, x) + cell.bias
    a_f, a_g, a_k = cell.weight_hh
    s = jnn.sigmoid(-(a_f * h + u[0]) * cell.timespan)
    g, k = jnp.tanh(a_g * h + u[1]), jnp.tanh(a_k * h + u[2])
    return s * g + (1 - s) * k


def scan(cell, h0, xs):
    """The states h_1..h_T by a plain `lax.scan` of the cell."""
    return jax.lax.scan(lambda h, x: (cell(h, x), cell(h, x)), h0, xs)[1]


@eqx.filter_jit
def _evaluate(cell, h, x):
    shape = h.shape

    def f(v):
        return cell(v.reshape(shape), x).reshape(-1)

    value, jac = cell.value_and_jacobian(h, x)
    value_d, diag = cell.value_and_jacobian_diagonal(h, x)
    return value, jac, value_d, diag, cell(h, x), jax.jacfwd(f)(h.reshape(-1))


@pytest.mark.parametrize("name", sorted(SIZES))
@settings(max_examples=4, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16), scale=st.sampled_from([0.3, 1.0, 3.0, 10.0]))
def test_step_and_structured_jacobian_equal_equations_and_jacfwd(name, data, seed, scale):
    D, N, option = data.draw(st.sampled_from(SIZES[name]))
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    cell = make(name, D, N, option, k1)
    # Scale the parameters so that gates saturate or not, and tanh/σ see a range of inputs.
    cell = jax.tree_util.tree_map(lambda p: scale * p, cell)
    h = random_state(name, N, k2, 2.0)
    x = 2 * jax.random.normal(k3, (D,))
    value, jac, value_d, diag, call, want_jac = _evaluate(cell, h, x)
    size = h.size
    want = eqx.filter_jit(reference_step)(name, cell, h, x)
    np.testing.assert_allclose(call, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value, call, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value_d, call, rtol=1e-12, atol=1e-12)
    assert jac.shape == expected_layout(name, cell, N)
    np.testing.assert_allclose(dense(jac, size), want_jac, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        cell.jacobian_structure.to_dense(jac), want_jac, rtol=1e-10, atol=1e-12
    )
    assert diag.shape == (size,)
    np.testing.assert_allclose(diag, jnp.diagonal(want_jac), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SIZES))
@settings(max_examples=2, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**16), T=st.sampled_from([1, 20]))
def test_trajectory_equals_a_scan_and_sequential_unroll(name, data, seed, T):
    D, N, option = data.draw(st.sampled_from(SIZES[name]))
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    cell = make(name, D, N, option, k1)
    h0 = random_state(name, N, k2)
    xs = 2 * jax.random.normal(k3, (T, D))
    want = scan(cell, h0, xs)
    h, manual = h0, []
    for x in xs:
        h = reference_step(name, cell, h, x)
        manual.append(h)
    np.testing.assert_allclose(want, jnp.stack(manual), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cell.trajectory(h0, xs), want, rtol=1e-12, atol=1e-12)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.Sequential())
    np.testing.assert_allclose(sol.states, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["diagonal_gru", "cfc"])
def test_quasideer_is_exact_newton_on_diagonal_cells(name, getkey):
    # The diagonal of a diagonal Jacobian is the Jacobian: QuasiDEER is Newton's method, so it
    # converges to the sequential states in a few iterations.
    D, N, option = SIZES[name][-1]
    cell = make(name, D, N, option, getkey())
    xs = jax.random.normal(getkey(), (500, D))
    h0 = jnp.zeros(N)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER())
    want = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    np.testing.assert_allclose(sol.states, want, rtol=1e-10, atol=1e-10)
    assert int(sol.stats["num_steps"]) <= 6


def test_block_gru_with_one_block_is_the_dense_gru(getkey):
    D, N = 3, 4
    block = BlockGRU(D, N, block_size=N, key=getkey())
    gru = GRU(D, N, key=getkey())
    gru = eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh),
        gru,
        (block.weight_ih, block.weight_hh.reshape(3 * N, N), block.bias_ih, block.bias_hh),
    )
    h, x = jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (D,))
    np.testing.assert_allclose(block(h, x), gru(h, x), rtol=1e-13)
    np.testing.assert_allclose(
        block.value_and_jacobian(h, x)[1][0], gru.value_and_jacobian(h, x)[1], rtol=1e-12
    )


def test_heads_and_blocks_do_not_mix(getkey):
    # Head i of the state reads only head i of the input (DiagonalGRU/LSTM), and block i of a
    # BlockGRU only its own block of the state.
    D, N, H = 4, 6, 2
    for cell in (DiagonalGRU(D, N, num_heads=H, key=getkey()),):
        h, x = jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (D,))
        dx = jax.jacfwd(cell, argnums=1)(h, x)  # (N, D)
        mask = jsl.block_diag(*[jnp.ones((N // H, D // H))] * H)
        assert jnp.all(dx[mask == 0] == 0) and jnp.all(dx[mask == 1] != 0)
    lstm = DiagonalLSTM(D, N, num_heads=H, key=getkey())
    s, x = jax.random.normal(getkey(), (N, 2)), jax.random.normal(getkey(), (D,))
    dx = jax.jacfwd(lstm, argnums=1)(s, x)  # (N, 2, D)
    for j in range(2):
        assert jnp.all(dx[:, j][mask == 0] == 0) and jnp.all(dx[:, j][mask == 1] != 0)


def test_initialisation_follows_pararnn(getkey):
    N, D = 512, 8
    for cell in (DiagonalGRU(D, N, key=getkey()), DiagonalLSTM(D, N, key=getkey())):
        np.testing.assert_allclose(cell.bias[0], -np.linspace(0, 1, N), atol=1e-15)
        assert jnp.all(cell.bias[1:] == 0)
        std = 2 / math.sqrt(5 * N)
        assert 0.9 * std < float(jnp.std(cell.weight_hh)) < 1.1 * std
        bound = math.sqrt(6 / (D + N))
        assert float(jnp.max(jnp.abs(cell.weight_ih))) <= bound
        assert float(jnp.max(jnp.abs(cell.weight_ih))) > 0.9 * bound
    lstm = DiagonalLSTM(D, N, key=getkey())
    assert 0.9 * std < float(jnp.std(lstm.peephole)) < 1.1 * std
    slstm = SLSTM(D, N, num_heads=4, key=getkey())
    np.testing.assert_allclose(slstm.bias[2], np.linspace(3, 6, N), atol=1e-12)
    assert jnp.all(slstm.bias[jnp.array([0, 1, 3])] == 0)
    block = BlockGRU(D, N, block_size=4, key=getkey())
    assert 0.45 < float(jnp.max(jnp.abs(block.weight_hh))) <= 0.5  # U(±1/√k), k = 4


def test_untrained_cells_are_contractive(getkey):
    # ParaRNN's initialisation keeps |∂h'/∂h| < 1 elementwise at the start, which is what lets
    # Newton converge in a few iterations.
    N, D = 256, 8
    for cell in (DiagonalGRU(D, N, key=getkey()), CfC(D, N, key=getkey())):
        h, x = jnp.tanh(jax.random.normal(getkey(), (N,))), jax.random.normal(getkey(), (D,))
        assert float(jnp.max(jnp.abs(cell.value_and_jacobian(h, x)[1]))) < 1


def test_dtype_argument(getkey):
    for cls in (DiagonalGRU, DiagonalLSTM, CfC, SLSTM):
        cell = cls(2, 4, key=getkey(), dtype=jnp.float32)
        assert {p.dtype for p in jax.tree_util.tree_leaves(cell)} == {jnp.dtype("float32")}
    cell = BlockGRU(2, 4, block_size=2, key=getkey(), dtype=jnp.float32)
    assert {p.dtype for p in jax.tree_util.tree_leaves(cell)} == {jnp.dtype("float32")}


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda k: DiagonalGRU(0, 4, key=k), "input_size"),
        (lambda k: DiagonalGRU(4, 2.0, key=k), "hidden_size"),
        (lambda k: DiagonalGRU(4, 6, num_heads=4, key=k), "num_heads"),
        (lambda k: DiagonalGRU(3, 6, num_heads=2, key=k), "num_heads"),
        (lambda k: DiagonalLSTM(4, 4, num_heads=0, key=k), "num_heads"),
        (lambda k: DiagonalLSTM(True, 4, key=k), "input_size"),
        (lambda k: BlockGRU(4, 6, block_size=4, key=k), "block_size"),
        (lambda k: BlockGRU(4, 6, block_size=-2, key=k), "block_size"),
        (lambda k: CfC(4, 6, timespan=0.0, key=k), "timespan"),
        (lambda k: CfC(4, -1, key=k), "hidden_size"),
        (lambda k: SLSTM(4, 6, num_heads=3, key=k), "num_heads"),
    ],
)
def test_constructor_errors_name_the_argument(build, match):
    # A size of the wrong type is a TypeError, a bad value a ValueError; both name it.
    with pytest.raises((TypeError, ValueError), match=match):
        build(jax.random.key(0))


@pytest.mark.parametrize("name", sorted(SIZES))
def test_declared_structure_matches_the_jacobian_layout(name, getkey):
    D, N, option = SIZES[name][-1]
    cell = make(name, D, N, option, getkey())
    structures = paratime.structures
    if name in ("diagonal_gru", "cfc"):
        want = structures.Diagonal()
    elif name == "diagonal_lstm":
        want = structures.BlockDiagonal(2)
    elif name == "slstm":
        want = structures.BlockDiagonal(3 * N // option)
    else:
        want = structures.BlockDiagonal(option)
    assert cell.jacobian_structure == want


@pytest.mark.parametrize("solver", ["DEER", "QuasiDEER"])
@pytest.mark.parametrize("name", sorted(SIZES))
def test_newton_solvers_match_sequential(name, solver, getkey):
    D, N, option = SIZES[name][-1]
    cell = make(name, D, N, option, getkey())
    h0 = random_state(name, N, getkey(), 0.5)
    xs = jax.random.normal(getkey(), (300, D))
    want = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    sol = paratime.unroll(cell, h0, xs, solver=getattr(paratime, solver)(max_iters=200))
    np.testing.assert_allclose(sol.states, want, rtol=1e-10, atol=1e-10)
    if solver == "DEER":  # exact Newton on contractive cells (sLSTM: a slow forget mode)
        assert int(sol.stats["num_steps"]) <= (12 if name == "slstm" else 8)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_deer_gradients_match_autodiff_through_a_scan(name, getkey):
    D, N, option = SIZES[name][-1]
    cell = make(name, D, N, option, getkey())
    h0 = random_state(name, N, getkey(), 0.5)
    xs = jax.random.normal(getkey(), (100, D))
    weights = jax.random.normal(getkey(), (100,) + state_shape(name, N))

    def loss(cell, h0, xs, solver):
        if solver is None:
            states = scan(cell, h0, xs)
        else:
            states = paratime.unroll(cell, h0, xs, solver=solver).states
        return jnp.sum(weights * jnp.sin(states))

    args_grad = eqx.filter_grad(lambda args, s: loss(*args, s))
    want = args_grad((cell, h0, xs), None)
    got = args_grad((cell, h0, xs), paratime.DEER())
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_default_solver_and_vmapped_batches_match_sequential(name, getkey):
    D, N, option = SIZES[name][-1]
    cell = make(name, D, N, option, getkey())
    h0 = jnp.zeros(state_shape(name, N))
    xs = jax.random.normal(getkey(), (3, 200, D))

    def run(solver):
        return jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states)(xs)

    want = run(paratime.Sequential())
    np.testing.assert_allclose(run(paratime.Auto()), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(run(paratime.DEER()), want, rtol=1e-10, atol=1e-10)
