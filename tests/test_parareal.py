"""Parareal as an unroll solver: exactness per iteration, agreement with Sequential, gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_allclose, tree_max_abs_diff
from paratime._engine._solver._parareal import Parareal


class EulerCell(eqx.Module):
    """h' = h + dt·(tanh(W h + U x) − h): a forward-Euler step of a contractive ODE."""

    W: jax.Array
    U: jax.Array
    dt: float = eqx.field(static=True)

    def __call__(self, h, x):
        return h + self.dt * (jnp.tanh(self.W @ h + self.U @ x) - h)


def _euler(key, n=5, d=2, dt=0.1):
    k1, k2 = jax.random.split(key)
    return EulerCell(
        0.9 * jax.random.normal(k1, (n, n)) / n**0.5, jax.random.normal(k2, (n, d)), dt
    )


def _coarse(cell):
    """The same ODE with a twice larger step: the classic parareal coarse propagator."""
    return EulerCell(cell.W, cell.U, 2 * cell.dt)


@pytest.mark.parametrize("coarse", ["quasideer", "cell"])
def test_first_slices_exact_after_k_iterations(coarse, getkey):
    cell = _euler(getkey())
    T, S = 24, 3
    L = T // S
    xs = jax.random.normal(getkey(), (T, 2))
    h0 = jnp.full(5, 0.3)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    coarse = "quasideer" if coarse == "quasideer" else _coarse(cell)
    for k in range(S):
        solver = Parareal(S, coarse=coarse, coarse_stride=2, max_iters=k, rtol=0.0, atol=0.0)
        sol = paratime.unroll(cell, h0, xs, solver=solver, throw=False)
        assert int(sol.stats["num_steps"]) == k
        err = jnp.max(jnp.abs(sol.states - ref), axis=1)
        # U_0 = h0 is exact, so after k corrections slices 0..k are exact ...
        assert jnp.max(err[: (k + 1) * L]) < 1e-14
        # ... while before the last correction the rest of the trajectory is not yet.
        if k < S - 1:
            assert jnp.max(err[(k + 1) * L :]) > 1e-8
            assert sol.result == paratime.RESULTS.max_iters_reached
    # After S - 1 corrections everything is exact and the boundary residual is at round-off.
    assert float(sol.stats["residual"]) < 1e-14


@pytest.mark.parametrize("num_slices", [3, 64])
def test_matches_sequential_gru(num_slices, getkey):
    cell = paratime.cells.GRU(3, 6, key=getkey())
    xs = jax.random.normal(getkey(), (50, 3))  # 50 is not a multiple of 3, 8 or 64
    h0 = jax.random.normal(getkey(), (6,))
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    sol = paratime.unroll(cell, h0, xs, solver=Parareal(num_slices))
    assert sol.result == paratime.RESULTS.successful
    assert int(sol.stats["num_steps"]) <= min(num_slices, 50)
    assert tree_allclose(sol.states, ref, rtol=1e-10, atol=1e-10)


def test_matches_sequential_lstm_pytree_state_and_coarse_cell(getkey):
    cell = paratime.cells.LSTM(2, 4, key=getkey())
    xs = jax.random.normal(getkey(), (30, 2))
    h0 = (jnp.zeros(4), jnp.zeros(4))
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    solver = Parareal(5, coarse=cell, coarse_stride=3)  # the model itself on every 3rd input
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    assert tree_allclose(sol.states, ref, rtol=1e-10, atol=1e-10)


def test_good_coarse_propagator_needs_fewer_iterations(getkey):
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (64, 2))
    h0 = jnp.full(5, 0.3)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    solver = Parareal(8, coarse=_coarse(cell), coarse_stride=2, rtol=1e-7, atol=1e-7)
    sol = paratime.unroll(cell, h0, xs, solver=solver)
    assert int(sol.stats["num_steps"]) < 7  # fewer than the S - 1 that exactness guarantees
    assert tree_max_abs_diff(sol.states, ref) < 1e-6


@pytest.mark.parametrize("coarse", ["quasideer", "cell"])
def test_gradients_match_autodiff_through_scan(coarse, getkey):
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (24, 2))
    h0 = jnp.full(5, 0.3)

    def loss(cell, h0, xs, solver):
        states = paratime.unroll(cell, h0, xs, solver=solver).states
        return jnp.sum(jnp.sin(states) * jnp.arange(24.0)[:, None])

    def loss_coarse_from_cell(cell, h0, xs):
        # The coarse cell shares the differentiated parameters: its gradient is cut.
        solver = Parareal(4, coarse=_coarse(cell), coarse_stride=2)
        return loss(cell, h0, xs, solver)

    ref = jax.grad(loss, argnums=(0, 1, 2))(cell, h0, xs, paratime.Sequential())
    if coarse == "quasideer":
        got = jax.grad(loss, argnums=(0, 1, 2))(cell, h0, xs, Parareal(4))
    else:
        got = jax.grad(loss_coarse_from_cell, argnums=(0, 1, 2))(cell, h0, xs)
    assert tree_allclose(got, ref, rtol=1e-8, atol=1e-9)


def test_vmap_and_jit(getkey):
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (3, 20, 2))
    h0 = jnp.full(5, 0.3)

    @jax.jit
    def run(xs, solver):
        return jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states)(xs)

    assert tree_allclose(run(xs, Parareal(4)), run(xs, paratime.Sequential()), atol=1e-10)


def test_float32(getkey):
    cell = _euler(getkey())
    cell = jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), cell)
    xs = jax.random.normal(getkey(), (40, 2), dtype=jnp.float32)
    h0 = jnp.full(5, 0.3, dtype=jnp.float32)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    sol = paratime.unroll(cell, h0, xs, solver=Parareal(5))
    assert sol.states.dtype == jnp.float32
    assert tree_allclose(sol.states, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_slices": 0}, "num_slices"),
        ({"num_slices": 2.5}, "num_slices"),
        ({"num_slices": 4, "coarse": "deer"}, "coarse"),
        ({"num_slices": 4, "coarse": 3}, "coarse"),
        ({"num_slices": 4, "coarse_stride": 0}, "coarse_stride"),
        ({"num_slices": 4, "max_iters": -1}, "max_iters"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Parareal(**kwargs)


def test_warm_start_from_exact_guess_needs_no_iteration(getkey):
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (32, 2))
    h0 = jnp.full(5, 0.3)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    sol = paratime.unroll(cell, h0, xs, solver=Parareal(4), guess=ref)
    assert int(sol.stats["num_steps"]) == 0
    assert tree_allclose(sol.states, ref, atol=1e-12)


@pytest.mark.parametrize(
    "recurrence",
    [paratime.recurrences.Associative(), paratime.recurrences.Scan()],
    ids=["associative", "scan"],
)
def test_recurrence_field_solves_the_coarse_sweep(recurrence, getkey):
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (40, 2))
    h0 = jnp.full(5, 0.3)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    default = paratime.unroll(cell, h0, xs, solver=Parareal(8))
    sol = paratime.unroll(cell, h0, xs, solver=Parareal(8, recurrence=recurrence))
    assert tree_allclose(sol.states, ref, rtol=1e-10, atol=1e-10)
    assert int(sol.stats["num_steps"]) == int(default.stats["num_steps"])


def test_recurrence_field_sharded_spreads_the_slices(getkey):
    mesh = jax.make_mesh((2,), ("time",))
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (32, 2))
    h0 = jnp.full(5, 0.3)
    solver = Parareal(4, recurrence=paratime.recurrences.Sharded(mesh, "time"))
    ref = paratime.unroll(cell, h0, xs, solver=Parareal(4)).states
    assert tree_allclose(paratime.unroll(cell, h0, xs, solver=solver).states, ref)


def test_default_number_of_slices_is_the_square_root_of_T(getkey):
    """`Parareal()` (as `make_solver("parareal")` builds it) needs no `num_slices`: ⌈√T⌉."""
    cell = _euler(getkey())
    xs = jax.random.normal(getkey(), (30, 2))
    h0 = jnp.full(5, 0.3)
    ref = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    assert paratime.make_solver("parareal") == Parareal()
    sol = paratime.unroll(cell, h0, xs, solver=Parareal())
    assert tree_allclose(sol.states, ref, rtol=1e-10, atol=1e-10)
    six = paratime.unroll(cell, h0, xs, solver=Parareal(6, max_iters=0), throw=False)
    default = paratime.unroll(cell, h0, xs, solver=Parareal(max_iters=0), throw=False)
    assert tree_allclose(default.states, six.states, rtol=0, atol=0)  # ⌈√30⌉ = 6 slices


def test_recurrence_field_rejects_what_does_not_apply():
    mesh = jax.make_mesh((2,), ("time",))
    with pytest.raises(ValueError, match="`recurrence`.*Chunked"):
        Parareal(4, recurrence=paratime.recurrences.Chunked(8))
    with pytest.raises(TypeError, match="mesh"):  # one spelling: `recurrence=Sharded(mesh)`
        Parareal(4, mesh=mesh)  # type: ignore[call-arg]
