"""The dense implicit adjoint solves its reverse recurrence by the solver's recurrence strategy."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import paratime
from helpers import tree_allclose, tree_max_abs_diff
from paratime.recurrences import AbstractRecurrence, Associative, Chunked, Scan, Sharded
from test_unroll import loss_of_states, make_problem, reference_states

_REVERSE_SOLVES: list[str] = []


class _Watched(AbstractRecurrence):
    """An associative scan that records each reverse solve (the adjoint's) while tracing."""

    def solve(self, structure, a, b, h0, reverse):
        if reverse:
            _REVERSE_SOLVES.append(type(structure).__name__)
        return Associative().solve(structure, a, b, h0, reverse)


def _mesh():
    return jax.make_mesh((4,), ("time",), devices=jax.devices()[:4])


STRATEGIES = {
    "default": lambda: None,
    "scan": Scan,
    "associative": Associative,
    "chunked": lambda: Chunked(7, inner=Associative()),
    "sharded": lambda: Sharded(_mesh(), "time"),
    "watched": _Watched,
}


def _gradients(solver, cell, h0, xs):
    def loss(cell, h0, xs):
        return loss_of_states(paratime.unroll(cell, h0, xs, solver=solver).states)

    return eqx.filter_jit(eqx.filter_grad(loss))(cell, h0, xs)


def _reference(cell, h0, xs):
    def loss(cell, h0, xs):
        return loss_of_states(reference_states(cell, h0, xs))

    return eqx.filter_grad(loss)(cell, h0, xs)


@pytest.mark.parametrize("cell_name", ["gru", "lstm"])
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_gradients_by_each_strategy_match_autodiff_through_scan(strategy, cell_name):
    cell, h0, xs = make_problem(cell_name)
    solver = paratime.DEER(recurrence=STRATEGIES[strategy]())
    assert isinstance(solver.adjoint, paratime.ImplicitAdjoint)
    _REVERSE_SOLVES.clear()
    got = _gradients(solver, cell, h0, xs)
    want = _reference(cell, h0, xs)
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-10), tree_max_abs_diff(got, want)
    if strategy == "watched":  # the adjoint's reverse recurrence went through the strategy
        assert _REVERSE_SOLVES == ["Dense"]


def test_the_strategy_holds_under_vmap():
    cell, h0, xs = make_problem("gru")
    batch = jnp.stack([xs, 0.5 * xs, -xs])
    solver = paratime.DEER(recurrence=_Watched())

    def loss(cell, xs):
        states = jax.vmap(lambda x: paratime.unroll(cell, h0, x, solver=solver).states)(xs)
        return loss_of_states(states)

    def reference(cell, xs):
        return loss_of_states(jax.vmap(lambda x: reference_states(cell, h0, x))(xs))

    _REVERSE_SOLVES.clear()
    got = eqx.filter_jit(eqx.filter_grad(loss))(cell, batch)
    want = eqx.filter_grad(reference)(cell, batch)
    assert tree_allclose(got, want, rtol=1e-8, atol=1e-10), tree_max_abs_diff(got, want)
    assert _REVERSE_SOLVES  # traced through the strategy (one sequence at a time, or batched)


def test_the_adjoint_strategy_of_each_solver():
    """The strategy the solve hands its adjoint (`SolveResult.linearisation.recurrence`)."""
    cell, h0, xs = make_problem("gru")
    flat = paratime._engine._flat.FlatCell(cell, paratime._engine._state.flat_state(h0))

    def strategy(solver):
        lin = solver.solve(flat, h0, xs, None).linearisation
        return None if lin is None else lin.recurrence

    assert strategy(paratime.Sequential()) is None  # the backend's default
    assert strategy(paratime.DEER()) is None
    assert strategy(paratime.DEER(recurrence=Associative())) == Associative()
    # Chunked: the adjoint runs over the whole sequence, by the chunks' inner strategy.
    assert strategy(paratime.QuasiDEER(recurrence=Chunked(8, Associative()))) == Associative()
