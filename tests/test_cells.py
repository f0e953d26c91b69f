"""The shipped cells: analytic Jacobians equal autodiff; the equations follow the conventions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import paratime
from paratime.cells import GRU, LRU, LSTM, AbstractCell, AbstractLinearCell, Elman, MinGRU

CELLS = {"elman": Elman, "gru": GRU, "lstm": LSTM, "mingru": MinGRU, "lru": LRU}


def initial_state(name, n, values):
    if name == "lstm":
        return (values[:n], values[n:])
    if name == "lru":
        return values[:n] + 1j * values[n:]
    return values[:n]


def ravel(h):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(h)])


@eqx.filter_jit
def jacobians(cell, h, x):
    """(analytic value, analytic J, analytic diag, autodiff value, autodiff J)."""
    treedef = jax.tree_util.tree_structure(h)
    sizes = [x.size for x in jax.tree_util.tree_leaves(h)]

    def unravel(v):
        return jax.tree_util.tree_unflatten(treedef, jnp.split(v, np.cumsum(sizes)[:-1]))

    def f(v):
        return ravel(cell(unravel(v), x))

    flat = ravel(h)
    holomorphic = jnp.iscomplexobj(flat)
    value, jac = cell.value_and_jacobian(h, x)
    value_d, diag = cell.value_and_jacobian_diagonal(h, x)
    auto = jax.jacfwd(f, holomorphic=holomorphic)(flat)
    return ravel(value), jac, ravel(value_d), diag, f(flat), auto


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(sorted(CELLS)),
    sizes=st.sampled_from([(1, 1), (2, 3), (3, 2)]),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.1, 1.0, 4.0]),
    data=st.data(),
)
def test_analytic_jacobians_equal_jacfwd(name, sizes, seed, scale, data):
    D, n = sizes
    cell = CELLS[name](D, n, key=jax.random.key(seed))
    # Scale the parameters so that gates saturate or not, and tanh/σ see a range of inputs.
    cell = jax.tree_util.tree_map(lambda p: scale * p, cell)
    N = 2 * n if name in ("lstm", "lru") else n
    values = data.draw(hnp.arrays(np.float64, (N,), elements=st.floats(-3, 3)))
    x = data.draw(hnp.arrays(np.float64, (D,), elements=st.floats(-3, 3)))
    h = initial_state(name, n, jnp.asarray(values))
    value, jac, value_d, diag, want_value, want_jac = jacobians(cell, h, jnp.asarray(x))
    n_state = want_jac.shape[0]
    assert jac.shape == (n_state, n_state) and diag.shape == (n_state,)
    np.testing.assert_allclose(value, want_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value_d, want_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jac, want_jac, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(diag, jnp.diagonal(want_jac), rtol=1e-10, atol=1e-12)


def test_gru_matches_equinox_gru_cell(getkey):
    D, N = 3, 5
    cell = GRU(D, N, key=getkey())
    ref = eqx.nn.GRUCell(D, N, key=getkey())
    bias_hh = jnp.split(cell.bias_hh, 3)
    bias = cell.bias_ih + jnp.concatenate([bias_hh[0], bias_hh[1], jnp.zeros(N)])
    ref = eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias, c.bias_n),
        ref,
        (cell.weight_ih, cell.weight_hh, bias, bias_hh[2]),
    )
    h, x = jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (D,))
    np.testing.assert_allclose(cell(h, x), ref(x, h), rtol=1e-12, atol=1e-12)


def test_lstm_matches_equinox_lstm_cell(getkey):
    D, N = 3, 4
    cell = LSTM(D, N, key=getkey())
    ref = eqx.nn.LSTMCell(D, N, key=getkey())
    ref = eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias),
        ref,
        (cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh),
    )
    state = (jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (N,)))
    x = jax.random.normal(getkey(), (D,))
    got, want = cell(state, x), ref(x, state)
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_parameter_shapes_follow_pytorch(getkey):
    D, N = 3, 5
    gru, lstm = GRU(D, N, key=getkey()), LSTM(D, N, key=getkey())
    assert gru.weight_ih.shape == (3 * N, D) and gru.weight_hh.shape == (3 * N, N)
    assert gru.bias_ih.shape == gru.bias_hh.shape == (3 * N,)
    assert lstm.weight_ih.shape == (4 * N, D) and lstm.weight_hh.shape == (4 * N, N)
    bound = 1 / np.sqrt(N)
    for w in (gru.weight_ih, gru.weight_hh, lstm.weight_hh, lstm.bias_ih):
        assert float(jnp.max(jnp.abs(w))) <= bound


def test_mingru_equations(getkey):
    D, N = 2, 3
    cell = MinGRU(D, N, key=getkey())
    assert isinstance(cell, AbstractLinearCell)
    h, x = jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (D,))
    z = jax.nn.sigmoid(cell.weight_z @ x + cell.bias_z)
    want = (1 - z) * h + z * (cell.weight_h @ x + cell.bias_h)
    np.testing.assert_allclose(cell(h, x), want, rtol=1e-12)
    a, b = cell.coefficients(x)
    np.testing.assert_allclose(a * h + b, want, rtol=1e-12)


def test_lru_eigenvalues_and_readout(getkey):
    D, N = 3, 64
    cell = LRU(D, N, key=getkey(), r_min=0.5, r_max=0.9, max_phase=1.0)
    assert isinstance(cell, AbstractLinearCell)
    lam = cell.eigenvalues
    assert jnp.iscomplexobj(lam)
    assert bool(jnp.all((jnp.abs(lam) >= 0.5 - 1e-12) & (jnp.abs(lam) <= 0.9 + 1e-12)))
    assert bool(jnp.all((jnp.angle(lam) >= 0) & (jnp.angle(lam) <= 1.0 + 1e-12)))
    # γ normalises the input: γ = sqrt(1 − |λ|²).
    np.testing.assert_allclose(jnp.exp(cell.gamma_log), jnp.sqrt(1 - jnp.abs(lam) ** 2))
    h = jax.random.normal(getkey(), (N,)) + 1j * jax.random.normal(getkey(), (N,))
    x = jax.random.normal(getkey(), (D,))
    B = cell.B_re + 1j * cell.B_im
    want = lam * h + jnp.exp(cell.gamma_log) * (B @ x)
    np.testing.assert_allclose(cell(h, x), want, rtol=1e-12)
    y = cell.readout(h, x)
    C = cell.C_re + 1j * cell.C_im
    np.testing.assert_allclose(y, jax.nn.gelu(jnp.real(C @ h) + cell.D * x), rtol=1e-12)
    ys = cell.readout(jnp.stack([h, 2 * h]), jnp.stack([x, x]))
    assert ys.shape == (2, D) and not jnp.iscomplexobj(ys)


def test_elman_equations_and_weight_scale(getkey):
    D, N = 2, 200
    for scale in (0.5, 3.0):
        cell = Elman(D, N, key=getkey(), weight_scale=scale)
        radius = float(jnp.max(jnp.abs(jnp.linalg.eigvals(cell.weight_hh))))
        assert abs(radius - scale) < 0.25 * scale
    h, x = jax.random.normal(getkey(), (N,)), jax.random.normal(getkey(), (D,))
    want = jnp.tanh(cell.weight_hh @ h + cell.weight_ih @ x + cell.bias)
    np.testing.assert_allclose(cell(h, x), want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_dtype_argument(name, getkey):
    cell = CELLS[name](2, 3, key=getkey(), dtype=jnp.float32)
    for leaf in jax.tree_util.tree_leaves(eqx.filter(cell, eqx.is_array)):
        assert leaf.dtype == jnp.float32
    default = CELLS[name](2, 3, key=getkey())  # x64 is on in the tests
    assert jax.tree_util.tree_leaves(default)[0].dtype == jnp.float64


class DictCell(AbstractCell):
    """A user cell with a dict state, only `__call__` implemented: Jacobians by autodiff."""

    w: jax.Array

    def __call__(self, h, x):
        return {"a": jnp.tanh(self.w * h["a"] + h["b"][0] * x), "b": jnp.sin(h["a"][:1] + x)}


def test_default_jacobians_of_a_user_subclass():
    cell = DictCell(jnp.array([0.5, -1.5]))
    h = {"a": jnp.array([0.3, -0.2]), "b": jnp.array([0.7])}
    x = jnp.array(0.4)
    value, jac, value_d, diag, want_value, want_jac = jacobians(cell, h, x)
    assert jac.shape == (3, 3)
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    np.testing.assert_allclose(value_d, want_value, rtol=1e-12)
    np.testing.assert_allclose(jac, want_jac, rtol=1e-12)
    np.testing.assert_allclose(diag, jnp.diagonal(want_jac), rtol=1e-12)


def test_cells_are_accepted_by_unroll_with_default_solver(getkey):
    xs = jax.random.normal(getkey(), (5, 2))
    sol = paratime.unroll(MinGRU(2, 3, key=getkey()), jnp.zeros(3), xs)
    assert sol.states.shape == (5, 3)


def plain_scan(cell, h0, xs):
    def step(h, x):
        h = cell(h, x)
        return h, h

    return jax.lax.scan(step, h0, xs)[1]


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(sorted(CELLS)),
    sizes=st.sampled_from([(1, 1), (2, 3), (3, 2)]),
    T=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.1, 1.0, 4.0]),
)
def test_trajectory_equals_a_scan_of_the_cell(name, sizes, T, seed, scale):
    D, n = sizes
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    cell = jax.tree_util.tree_map(lambda p: scale * p, CELLS[name](D, n, key=k1))
    N = 2 * n if name in ("lstm", "lru") else n
    h0 = initial_state(name, n, jax.random.normal(k2, (N,)))
    xs = 3 * jax.random.normal(k3, (T, D))
    got, want = cell.trajectory(h0, xs), plain_scan(cell, h0, xs)
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


class ShiftedTrajectoryGRU(GRU):
    """A GRU whose `trajectory` is deliberately off by one: shows which path gives what."""

    def trajectory(self, h0, xs):
        return super().trajectory(h0, xs) + 1.0


def test_sequential_forward_by_trajectory_derivatives_by_call(getkey):
    cell = ShiftedTrajectoryGRU(2, 3, key=getkey())
    h0, xs = jnp.full(3, 0.2), jax.random.normal(getkey(), (6, 2))
    solver = paratime.Sequential()
    for s in (solver, paratime.Auto()):  # Auto's choice on a CPU, the implicit adjoint, too
        states = paratime.unroll(cell, h0, xs, solver=s).states
        np.testing.assert_allclose(states, plain_scan(cell, h0, xs) + 1.0, rtol=1e-12)
        # Under `jax.vmap`, `unroll` runs the plain scan (it batches better).
        batched = jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=s).states)
        got = batched(jnp.stack([xs, -xs]))
        np.testing.assert_allclose(got[1], plain_scan(cell, h0, -xs), rtol=1e-12)

    def loss(cell, xs, run):
        return jnp.sum(jnp.sin(run(cell, xs)))

    got = eqx.filter_grad(loss)(
        cell, xs, lambda c, x: paratime.unroll(c, h0, x, solver=solver).states
    )
    # Differentiated, values and derivatives come from `__call__` (the shift is not seen).
    want = eqx.filter_grad(loss)(cell, xs, lambda c, x: plain_scan(c, h0, x))
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
