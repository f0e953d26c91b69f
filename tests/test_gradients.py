"""Gradients of `unroll` (adjoint method) equal autodiff through `lax.scan`, for every solver."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_allclose, tree_max_abs_diff
from paratime._engine._adjoint import dense_adjoint, diagonal_adjoint
from test_unroll import (
    CASES,
    T,
    loss_of_states,
    make_cell,
    make_problem,
    reference_states,
    solve_and_grad,
)


def _split_grads(grads):
    cell_grad, h0_grad, xs_grad = grads
    return eqx.filter(cell_grad, eqx.is_inexact_array), h0_grad, xs_grad


def test_cases_include_user_defined_cells():
    assert {c for _, c in CASES} >= {"user_module", "user_closure"}


@pytest.mark.parametrize("solver_name,cell_name", CASES)
def test_gradients_match_autodiff_through_scan(solver_name, cell_name):
    (_, grads), (_, ref_grads) = solve_and_grad(solver_name, cell_name)
    for got, want, what in zip(_split_grads(grads), _split_grads(ref_grads), ("cell", "h0", "xs")):
        assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want), what
        assert tree_allclose(got, want, rtol=1e-8, atol=1e-10), (what, tree_max_abs_diff(got, want))


@pytest.mark.parametrize("solver_name", ["deer", "quasideer"])
def test_gradient_without_jit(solver_name):
    """`eqx.filter_grad` outside any `jit` (the throw check then sees a traced result)."""
    cell, h0, xs = make_problem("gru")
    solver = {"deer": paratime.DEER(), "quasideer": paratime.QuasiDEER()}.get(
        solver_name, paratime.ELK(diagonal=True)
    )
    got = eqx.filter_grad(
        lambda c, h, x: loss_of_states(paratime.unroll(c, h, x, solver=solver).states)
    )(cell, h0, xs)
    want = eqx.filter_grad(lambda c, h, x: loss_of_states(reference_states(c, h, x)))(cell, h0, xs)
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver_name", ["deer", "quasideer", "elk_diagonal"])
def test_vmap_of_gradient(solver_name):
    """Per-example gradients of a batch (jit of vmap of grad) equal the scan's."""
    cell, h0, _ = make_problem("elman")
    xs = jax.random.normal(jax.random.key(9), (3, T, 2)) * jnp.array([0.1, 1.0, 3.0])[:, None, None]
    solver = {"deer": paratime.DEER(), "quasideer": paratime.QuasiDEER()}.get(
        solver_name, paratime.ELK(diagonal=True)
    )

    def per_example(fn):
        grad = eqx.filter_grad(lambda c, x: loss_of_states(fn(c, h0, x)))
        return eqx.filter_jit(eqx.filter_vmap(grad, in_axes=(None, 0)))(cell, xs)

    got = per_example(lambda c, h, x: paratime.unroll(c, h, x, solver=solver).states)
    want = per_example(reference_states)
    assert tree_allclose(
        eqx.filter(got, eqx.is_array), eqx.filter(want, eqx.is_array), rtol=1e-8, atol=1e-10
    )


def test_gradient_of_batched_loss():
    """grad of a mean over a vmapped batch (the usual training step)."""
    cell, h0, _ = make_problem("lstm")
    xs = jax.random.normal(jax.random.key(10), (2, T, 2))

    def loss(cell, fn):
        states = jax.vmap(lambda x: fn(cell, h0, x))(xs)
        return loss_of_states(states) / 2

    solver = paratime.QuasiDEER()
    got = eqx.filter_jit(eqx.filter_grad(loss))(
        cell, lambda c, h, x: paratime.unroll(c, h, x, solver=solver).states
    )
    want = eqx.filter_jit(eqx.filter_grad(loss))(cell, reference_states)
    assert tree_allclose(
        eqx.filter(got, eqx.is_array), eqx.filter(want, eqx.is_array), rtol=1e-8, atol=1e-10
    )


def test_gradient_with_fallback_matches():
    cell, h0, xs = make_problem("gru")
    solver = paratime.DEER(max_iters=1)

    def loss(c):
        sol = paratime.unroll(c, h0, xs, solver=solver, fallback="sequential")
        return loss_of_states(sol.states)

    got = eqx.filter_jit(eqx.filter_grad(loss))(cell)
    want = eqx.filter_grad(lambda c: loss_of_states(reference_states(c, h0, xs)))(cell)
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_gradient_of_partial_loss():
    """A loss that uses only the last state: cotangents are zero except at t = T."""
    cell, h0, xs = make_problem("elman")
    for solver in (paratime.DEER(), paratime.QuasiDEER()):
        got = eqx.filter_grad(
            lambda c, h: jnp.sum(paratime.unroll(c, h, xs, solver=solver).states[-1] ** 2)
        )(cell, h0)
        want = eqx.filter_grad(lambda c, h: jnp.sum(reference_states(c, h, xs)[-1] ** 2))(cell, h0)
        assert tree_allclose(got, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("batched", ["cell", "h0", "xs", "all"])
@pytest.mark.parametrize(
    "solver",
    [paratime.Sequential(adjoint=paratime.ImplicitAdjoint()), paratime.DEER()],
    ids=["implicit", "deer"],
)
def test_vmapped_dense_adjoint(batched, solver):
    """The dense adjoint's time-major batching rule, whichever arguments are batched. With
    `cell` or `xs` batched the loss is linear in the states: its cotangent is then the same for
    every batch member (unbatched)."""
    linear_loss = batched in ("cell", "xs")
    B = 3
    cell, h0, xs = make_problem("gru")
    keys = jax.random.split(jax.random.key(11), B)
    if batched in ("cell", "all"):
        cell = jax.vmap(lambda k: make_cell("gru", jnp.float64, k))(keys)
    if batched in ("h0", "all"):
        h0 = jax.vmap(lambda k: jax.random.normal(k, h0.shape, h0.dtype))(keys)
    if batched in ("xs", "all"):
        xs = xs[None] * jnp.arange(1.0, B + 1)[:, None, None]
    axes = tuple(0 if batched in (name, "all") else None for name in ("cell", "h0", "xs"))
    weights = jnp.arange(1.0, T + 1)[:, None]

    def grads(fn):
        def loss(c, h, x):
            states = fn(c, h, x)
            linear = jnp.sum(states * weights)
            return linear if linear_loss else linear + loss_of_states(states)

        per_member = eqx.filter_vmap(eqx.filter_grad(loss), in_axes=axes)
        return eqx.filter(eqx.filter_jit(per_member)(cell, h0, xs), eqx.is_array)

    got = grads(lambda c, h, x: paratime.unroll(c, h, x, solver=solver).states)
    want = grads(reference_states)
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-10), tree_max_abs_diff(got, want)


class _CountingGRU(paratime.cells.AbstractCell):
    """A GRU that records each tracing of its Jacobians, and whether the adjoint asked."""

    gru: paratime.cells.GRU
    traced: list = eqx.field(static=True)

    def __call__(self, h, x):
        return self.gru(h, x)

    def value_and_jacobian(self, h, x):
        self.traced.append(_IN_ADJOINT[-1])
        return self.gru.value_and_jacobian(h, x)

    def value_and_jacobian_diagonal(self, h, x):
        self.traced.append(_IN_ADJOINT[-1])
        return self.gru.value_and_jacobian_diagonal(h, x)


_IN_ADJOINT = [False]


@pytest.mark.parametrize("reuse", [True, False])
@pytest.mark.parametrize("solver", [paratime.DEER(), paratime.QuasiDEER()], ids=["deer", "quasi"])
def test_adjoint_reuses_the_newton_jacobians(monkeypatch, solver, reuse):
    """The Newton solve ends with the Jacobians at its trajectory; the adjoint uses those
    instead of evaluating them again, and the gradient is still that of the scan. (With
    `reuse=False` the Jacobians are withheld: the check sees the adjoint evaluate them.)"""
    import paratime._engine._adjoints as unroll_module  # (where the adjoints are called)

    def watched(adjoint, keyword):
        def run(*args, **kwargs):
            if not reuse:
                kwargs[keyword] = None
            _IN_ADJOINT.append(True)
            try:
                return adjoint(*args, **kwargs)
            finally:
                _IN_ADJOINT.pop()

        return run

    monkeypatch.setattr(unroll_module, "dense_adjoint", watched(dense_adjoint, "jacobians"))
    monkeypatch.setattr(unroll_module, "diagonal_adjoint", watched(diagonal_adjoint, "diagonal"))
    gru, h0, xs = make_problem("gru")
    cell = _CountingGRU(gru, [])

    def loss(cell):
        return loss_of_states(paratime.unroll(cell, h0, xs, solver=solver).states)

    grad = eqx.filter_jit(eqx.filter_grad(loss))(cell)
    assert False in cell.traced  # the Newton solve's
    assert (True in cell.traced) == (not reuse)
    want = eqx.filter_grad(lambda c: loss_of_states(reference_states(c, h0, xs)))(gru)
    assert tree_allclose(grad.gru, want, rtol=1e-8, atol=1e-10)
