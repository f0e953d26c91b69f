"""The fused Newton iteration (`DEER(recurrence=Pallas())` on `DiagonalGRU` and
`DiagonalLSTM`, interpret mode on the CPU): `unroll` gives the states and gradients of
`Sequential`, in one pass or in chunks, batched, in float64 and float32; and the cell's XLA
linearisation is not used on the way."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from helpers import tree_max_abs_diff
from paratime._engine._flat import FlatCell
from paratime._engine._kernels._fused import fused_newton
from paratime._engine._state import flat_state
from paratime.cells import GRU, DiagonalGRU, DiagonalLSTM
from paratime.recurrences import Pallas

T, D, N = 21, 4, 6


def _problem(cls, dtype=jnp.float64):
    cell = cls(D, N, num_heads=2, key=jax.random.key(0), dtype=dtype)
    xs = jax.random.normal(jax.random.key(1), (T, D), dtype)
    h0 = 0.1 * jnp.ones((N,) if cls is DiagonalGRU else (N, 2), dtype)
    return cell, h0, xs


def _value_and_grad(solver):
    weights = jnp.sin(jnp.arange(T, dtype=jnp.float64))

    @eqx.filter_jit
    @eqx.filter_value_and_grad(has_aux=True)
    def f(args):
        cell, h0, xs = args
        states = paratime.unroll(cell, h0, xs, solver=solver).states
        w = weights.astype(states.dtype).reshape((T,) + (1,) * (states.ndim - 1))
        return jnp.sum(w * states**2), states

    return f


@pytest.mark.parametrize("cls", [DiagonalGRU, DiagonalLSTM])
@pytest.mark.parametrize("chunk", [None, 8], ids=["one-pass", "chunked"])
def test_unroll_equals_sequential(cls, chunk):
    args = _problem(cls)
    (_, want), want_grad = _value_and_grad(paratime.Sequential())(args)
    (_, got), got_grad = _value_and_grad(paratime.DEER(recurrence=Pallas(chunk=chunk)))(args)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert tree_max_abs_diff(got_grad, want_grad) < 1e-9


def test_quasi_deer_on_a_diagonal_cell_is_fused_and_exact():
    cell, h0, xs = _problem(DiagonalGRU)
    want = paratime.unroll(cell, h0, xs, solver=paratime.Sequential()).states
    got = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER(recurrence=Pallas()))
    np.testing.assert_allclose(got.states, want, rtol=1e-10, atol=1e-12)
    assert int(got.stats["num_steps"]) < 10


def test_batched_float32_equals_sequential():
    cell, h0, xs = _problem(DiagonalLSTM, jnp.float32)
    xb = jnp.stack([xs, -0.5 * xs])
    solve = lambda solver: jax.vmap(  # noqa: E731
        lambda x: paratime.unroll(cell, h0, x, solver=solver).states
    )(xb)
    got = solve(paratime.DEER(recurrence=Pallas(chunk=8)))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, solve(paratime.Sequential()), rtol=1e-5, atol=1e-5)


def test_the_fused_path_never_evaluates_the_xla_linearisation(monkeypatch):
    cell, h0, xs = _problem(DiagonalLSTM)

    def boom(*args):
        raise AssertionError("the XLA linearisation was used")

    monkeypatch.setattr(DiagonalLSTM, "value_and_jacobian", boom)
    monkeypatch.setattr(DiagonalLSTM, "value_and_jacobian_diagonal", boom)
    states = paratime.unroll(cell, h0, xs, solver=paratime.DEER(recurrence=Pallas())).states
    assert bool(jnp.all(jnp.isfinite(states)))
    with pytest.raises(AssertionError, match="linearisation"):  # (the plain path does use it)
        paratime.unroll(cell, h0, xs, solver=paratime.DEER())


def test_only_cells_with_a_fused_step_and_exact_linearisations_are_fused():
    def fused(cell, h0, solver):
        flat = FlatCell(cell, flat_state(h0))
        xs = jnp.zeros((T, D))
        return jax.eval_shape(lambda: fused_newton(solver, Pallas(), flat, jnp.ravel(h0), xs, None))

    gru, h0, _ = _problem(DiagonalGRU)
    lstm, c0, _ = _problem(DiagonalLSTM)
    assert fused(gru, h0, paratime.DEER()) is not None
    assert fused(lstm, c0, paratime.DEER()) is not None
    assert fused(lstm, c0, paratime.QuasiDEER()) is None  # a diagonal projection: plain kernels
    assert fused(GRU(D, N, key=jax.random.key(0)), h0, paratime.DEER()) is None
