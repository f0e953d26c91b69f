"""`paratime.lyapunov`: known exponents (linear cells, the Lorenz-63 flow), the structured
paths against the dense one, and the contractivity measures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime


def linear(a):
    return lambda h, x: a @ h + x


def test_a_linear_cell_has_the_log_moduli_of_its_eigenvalues():
    # Non-normal (upper triangular): the exponents are log |eigenvalue|, not log singular value.
    eigs = jnp.array([1.05, 0.9, -0.5, 0.2])
    a = jnp.diag(eigs) + jnp.triu(jnp.full((4, 4), 0.3), k=1)
    xs = jax.random.normal(jax.random.key(0), (4000, 4))
    lyap = paratime.lyapunov(linear(a), jnp.zeros(4), xs)
    want = np.sort(np.log(np.abs(np.asarray(eigs))))[::-1]
    np.testing.assert_allclose(lyap.exponents, want, atol=5e-3)
    assert float(lyap.largest) == pytest.approx(np.log(1.05), abs=5e-3)
    assert float(lyap.max_norm) == pytest.approx(float(jnp.linalg.norm(a, 2)), rel=1e-10)
    assert float(lyap.mean_log_norm) >= float(lyap.largest)  # an upper bound


def rk4_lorenz(dt=0.01, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    def f(u):
        x, y, z = u
        return jnp.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    def step(u, _):
        k1 = f(u)
        k2 = f(u + dt / 2 * k1)
        k3 = f(u + dt / 2 * k2)
        k4 = f(u + dt * k3)
        return u + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    return step


def test_lorenz63_has_its_known_exponents():
    dt = 0.01
    step = rk4_lorenz(dt)
    u0 = jax.lax.fori_loop(0, 2000, lambda i, u: step(u, None), jnp.array([1.0, 1.0, 1.0]))
    lyap = paratime.lyapunov(step, u0, jnp.zeros((40_000, 0)))
    per_time = np.asarray(lyap.exponents) / dt
    assert per_time[0] == pytest.approx(0.906, abs=0.05)  # λ₁ of Lorenz-63
    assert per_time[1] == pytest.approx(0.0, abs=0.05)  # the flow direction
    # The sum is the mean divergence of the flow, −(σ + 1 + β), exactly up to RK4's error.
    assert per_time.sum() == pytest.approx(-(10 + 1 + 8 / 3), rel=1e-3)
    assert float(lyap.max_norm) > 1  # expanding somewhere: not contractive


@pytest.mark.parametrize(
    "make",
    [
        lambda k: paratime.cells.DiagonalGRU(3, 6, key=k),  # Diagonal: a parallel mean
        lambda k: paratime.cells.BlockGRU(3, 6, block_size=2, key=k),  # BlockDiagonal(2): per block
    ],
)
def test_structured_paths_match_the_dense_recursion(make):
    cell = make(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (300, 3))
    h0 = jnp.zeros(6)
    structured = paratime.lyapunov(cell, h0, xs)
    dense = paratime.lyapunov(lambda h, x: cell(h, x), h0, xs)  # a plain callable: Dense
    assert not isinstance(cell.jacobian_structure, paratime.structures.Dense)
    np.testing.assert_allclose(structured.exponents, dense.exponents, atol=1e-8)
    np.testing.assert_allclose(structured.max_norm, dense.max_norm, rtol=1e-10)
    np.testing.assert_allclose(structured.mean_log_norm, dense.mean_log_norm, rtol=1e-10)


def test_given_states_are_used_as_the_trajectory():
    cell = paratime.cells.GRU(2, 4, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (200, 2))
    sol = paratime.unroll(cell, jnp.zeros(4), xs, solver=paratime.Sequential())
    a = paratime.lyapunov(cell, jnp.zeros(4), xs)
    b = paratime.lyapunov(cell, jnp.zeros(4), xs, states=sol.states)
    np.testing.assert_allclose(a.exponents, b.exponents, rtol=1e-12)
    assert float(a.largest) < 0 and float(a.max_norm) < 1  # an untrained GRU contracts
