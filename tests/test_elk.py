"""ELK: the damped (Kalman-smoother) step against a direct solve, and the trust-region solver."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import paratime
from helpers import scan_reference, tree_allclose
from paratime._engine._solver._kalman import damped_step
from test_unroll import make_problem, reference_states

damped = jax.jit(damped_step, static_argnames="recurrence")
# The filter as an associative scan and as the sequential recursion.
METHODS = (paratime.recurrences.Associative(), paratime.recurrences.Scan())


def direct_damped_step(A, b, h0, y, lam):
    """Minimise Σ_t ‖s_t − A_t s_{t−1} − b_t‖² + λ‖s − y‖² (s_0 = h0) by its normal equations.

    With L the block bidiagonal matrix (I on the diagonal, −A_t below it) and c = b + [A_1 h0,
    0, ...], the minimiser solves (LᵀL + λI) s = Lᵀc + λy, a dense (TN × TN) system.
    """
    A, b, h0, y = (np.asarray(v) for v in (A, b, h0, y))
    T, N = b.shape
    if A.ndim == 2:
        A = np.stack([np.diag(a) for a in A])
    L = np.eye(T * N)
    for t in range(1, T):
        L[t * N : (t + 1) * N, (t - 1) * N : t * N] = -A[t]
    c = b.copy()
    c[0] += A[0] @ h0
    M = L.T @ L + lam * np.eye(T * N)
    return np.linalg.solve(M, L.T @ c.ravel() + lam * y.ravel()).reshape(T, N)


@st.composite
def damped_problems(draw):
    T = draw(st.integers(2, 6))
    N = draw(st.integers(1, 3))
    diagonal = draw(st.booleans())
    scale = draw(st.sampled_from([0.3, 1.0, 2.5]))  # contractive to expanding
    lam = draw(st.sampled_from([0.0, 1e-3, 0.5, 1.0, 10.0, 1e4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = scale * rng.standard_normal((T, N) if diagonal else (T, N, N)) / np.sqrt(N)
    b, h0, y = rng.standard_normal((T, N)), rng.standard_normal(N), rng.standard_normal((T, N))
    return A, b, h0, y, lam


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damped_problems())
def test_damped_step_solves_the_normal_equations(problem):
    """Both filters: the associative scan and the sequential recursion."""
    A, b, h0, y, lam = problem
    want = direct_damped_step(A, b, h0, y, lam)
    scale = max(1.0, float(np.max(np.abs(want))))
    for method in METHODS:
        got = damped(A, b, h0, y, jnp.asarray(lam), recurrence=method)
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9 * scale, err_msg=str(method))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("diagonal", [False, True])
def test_undamped_step_is_the_deer_step(diagonal, method, getkey):
    """With λ = 0 the step is the solution of the linearised recurrence (a DEER step)."""
    T, N = 9, 3
    A = 0.9 * jax.random.normal(getkey(), (T, N) if diagonal else (T, N, N)) / np.sqrt(N)
    b, h0, y = jax.random.normal(getkey(), (T, N)), jax.random.normal(getkey(), (N,)), None
    y = jax.random.normal(getkey(), (T, N))
    got = damped(A, b, h0, y, jnp.asarray(0.0), recurrence=method)
    np.testing.assert_allclose(got, scan_reference(A, b, h0), rtol=1e-9, atol=1e-9)
    # ... and a huge damping keeps the iterate where it is.
    huge = damped(A, b, h0, y, jnp.asarray(1e12), recurrence=method)
    np.testing.assert_allclose(huge, y, atol=1e-9)


def test_damped_step_single_time_step():
    """T = 1: the step is (A h0 + b + λ y) / (1 + λ)."""
    A, b, h0, y = jnp.full((1, 2), 0.5), jnp.ones((1, 2)), jnp.ones(2), jnp.zeros((1, 2))
    np.testing.assert_allclose(damped(A, b, h0, y, jnp.asarray(1.0)), jnp.full((1, 2), 0.75))


@pytest.mark.parametrize("diagonal", [False, True])
def test_elk_on_a_contractive_cell(diagonal):
    cell, h0, xs = make_problem("gru")
    sol = paratime.unroll(cell, h0, xs, solver=paratime.ELK(diagonal=diagonal))
    assert sol.result == paratime.RESULTS.successful
    assert float(jnp.max(jnp.abs(sol.states - reference_states(cell, h0, xs)))) < 1e-10
    assert int(sol.num_steps) >= 1
    assert float(sol.stats["damping"]) > 0


def chaotic(weight_scale: float = 3.0, T: int = 32, N: int = 4):
    cell = paratime.cells.Elman(2, N, key=jax.random.key(0), weight_scale=weight_scale)
    xs = jax.random.normal(jax.random.key(1), (T, 2))
    return cell, jnp.zeros(N), xs


@pytest.mark.parametrize("diagonal", [False, True])
def test_elk_converges_on_a_chaotic_cell(diagonal):
    """DEER diverges on this cell; ELK's damped steps converge to the exact trajectory."""
    cell, h0, xs = chaotic()
    deer = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), throw=False)
    assert deer.result != paratime.RESULTS.successful
    T = xs.shape[0]
    sol = paratime.unroll(cell, h0, xs, solver=paratime.ELK(max_iters=T, diagonal=diagonal))
    assert sol.result == paratime.RESULTS.successful
    assert float(jnp.max(jnp.abs(sol.states - reference_states(cell, h0, xs)))) < 1e-10


def test_elk_stays_finite_and_monotone_when_stopped_early():
    """Stopped long before convergence, ELK's iterate is finite and its residual no larger
    than at the start (rejected steps never replace the iterate)."""
    cell, h0, xs = chaotic(T=64)
    start = np.sqrt(64 * 4)  # the cold start s = 0 has ‖F‖₂ ≤ √(TN), since |tanh| ≤ 1
    for max_iters in (3, 10):
        sol = paratime.unroll(
            cell, h0, xs, solver=paratime.ELK(max_iters=max_iters, diagonal=True), throw=False
        )
        assert bool(jnp.all(jnp.isfinite(sol.states)))
        assert sol.result == paratime.RESULTS.max_iters_reached
        assert float(sol.stats["residual"]) <= start
        with pytest.raises(paratime.NewtonError, match="ELK"):
            paratime.unroll(cell, h0, xs, solver=paratime.ELK(max_iters=max_iters, diagonal=True))


def test_elk_converges_on_a_mildly_chaotic_cell_in_fewer_than_T_iterations():
    """weight_scale 1.6: DEER diverges from a cold start; ELK converges in fewer than T steps."""
    cell, h0, xs = chaotic(weight_scale=1.6, T=64)
    deer = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), throw=False)
    assert deer.result != paratime.RESULTS.successful
    sol = paratime.unroll(cell, h0, xs, solver=paratime.ELK(max_iters=200, diagonal=True))
    assert sol.result == paratime.RESULTS.successful
    assert int(sol.num_steps) < 64
    assert float(jnp.max(jnp.abs(sol.states - reference_states(cell, h0, xs)))) < 1e-10


def test_elk_gradient_on_a_chaotic_cell():
    """At the converged trajectory the adjoint is exact even for an expanding cell."""
    cell, h0, xs = chaotic(T=12)
    solver = paratime.ELK(max_iters=12, diagonal=True)
    got = eqx.filter_grad(lambda c: jnp.sum(paratime.unroll(c, h0, xs, solver=solver).states[-1]))(
        cell
    )
    want = eqx.filter_grad(lambda c: jnp.sum(reference_states(c, h0, xs)[-1]))(cell)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("diagonal", [False, True])
def test_recurrence_field_chooses_the_scans(diagonal):
    cell, h0, xs = make_problem("gru")
    ref = reference_states(cell, h0, xs)
    programs = []
    for recurrence in (paratime.recurrences.Associative(), paratime.recurrences.Scan()):
        solver = paratime.ELK(diagonal=diagonal, recurrence=recurrence)
        sol = paratime.unroll(cell, h0, xs, solver=solver)
        assert sol.result == paratime.RESULTS.successful
        assert float(jnp.max(jnp.abs(sol.states - ref))) < 1e-10

        def loss(cell, solver=solver):
            return jnp.sum(paratime.unroll(cell, h0, xs, solver=solver).states ** 2)

        grad = eqx.filter_grad(loss)(cell)
        want = eqx.filter_grad(
            lambda c: jnp.sum(paratime.unroll(c, h0, xs, solver=paratime.Sequential()).states ** 2)
        )(cell)
        assert tree_allclose(grad, want, rtol=1e-8, atol=1e-10)
        programs.append(str(jax.make_jaxpr(lambda h0: loss(cell))(h0)))
    assert programs[0] != programs[1]  # the field reaches the filter and smoother


def test_recurrence_field_rejects_chunks_and_shards():
    with pytest.raises(ValueError, match="`recurrence`.*Chunked"):
        paratime.ELK(recurrence=paratime.recurrences.Chunked(8))
