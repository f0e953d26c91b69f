"""`unroll(..., resets=)`: packed sequences restart the state at their boundaries.

Every solver, forward and gradient, against solving each segment on its own (a hand-written
`lax.scan` per segment, differentiated by autodiff), in float64.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

import paratime
from helpers import tree_max_abs_diff
from paratime import cells
from paratime._engine._resets import ResetCell, ResetLinearCell
from paratime._engine._solver import LinearScan
from test_unroll import loss_of_states, make_problem, reference_states

T = 10
RESETS = np.zeros(T, bool)
RESETS[[3, 4, 8]] = True  # two adjacent boundaries: a segment of one step

SOLVERS = {
    "sequential": paratime.Sequential(),
    "sequential_implicit": paratime.Sequential(adjoint=paratime.ImplicitAdjoint()),
    "deer": paratime.DEER(),
    "deer_chunked": paratime.DEER(recurrence=paratime.recurrences.Chunked(4)),
    "deer_iterative_adjoint": paratime.DEER(adjoint=paratime.IterativeAdjoint()),
    "quasideer": paratime.QuasiDEER(),
    "elk": paratime.ELK(),
    "parareal": paratime.Parareal(num_slices=3),
    "auto": paratime.Auto(),
    "linear_scan": LinearScan(),
    "deer_sharded": paratime.DEER(
        recurrence=paratime.recurrences.Sharded(jax.make_mesh((2,), ("time",)), "time")
    ),
}
# (solver, cell, restart from a given reset state and reset before the first step)
CASES = [
    ("sequential", "lstm", True),
    ("sequential_implicit", "gru", False),
    ("deer", "lstm", False),
    ("deer", "user_module", True),
    ("deer_chunked", "gru", True),
    ("deer_iterative_adjoint", "gru", False),
    ("quasideer", "lstm", True),
    ("elk", "gru", True),
    ("parareal", "gru", False),
    ("auto", "lstm", False),
    ("auto", "mingru", True),
    ("linear_scan", "mingru", False),
    ("linear_scan", "lru", True),
    ("deer_sharded", "gru", True),
]


def _slice(xs, start, stop):
    return jax.tree_util.tree_map(lambda x: x[start:stop], xs)


def segment_states(cell, h0, xs, resets, reset_state=None):
    """Each segment between resets solved on its own by a `lax.scan`, then concatenated."""
    reset_state = h0 if reset_state is None else reset_state
    length = len(resets)
    bounds = sorted({0, length, *np.flatnonzero(resets).tolist()})
    h, parts = h0, []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        first = reset_state if resets[start] else h
        part = reference_states(cell, first, _slice(xs, start, stop))
        parts.append(part)
        h = jax.tree_util.tree_map(lambda s: s[-1], part)
    return jax.tree_util.tree_map(lambda *p: jnp.concatenate(p), *parts)


def _value_and_grad(states_fn, cell, h0, xs, reset_state):
    def loss(diff):
        states = states_fn(*diff)
        return loss_of_states(states), states

    diff = (cell, h0, xs, reset_state)
    return eqx.filter_value_and_grad(loss, has_aux=True)(diff)


@eqx.filter_jit
def _solve_and_grad(cell, h0, xs, reset_state, resets, solver):
    return _value_and_grad(
        lambda c, h, x, r: (
            paratime.unroll(c, h, x, solver=solver, resets=resets, reset_state=r).states
        ),
        cell,
        h0,
        xs,
        reset_state,
    )


@pytest.mark.parametrize("solver_name, cell_name, own_state", CASES)
def test_resets_match_each_segment_solved_alone(solver_name, cell_name, own_state):
    cell, h0, xs = make_problem(cell_name, length=T)
    resets = RESETS.copy()
    reset_state = None
    if own_state:  # a given reset state, and a reset before the very first step
        resets[0] = True
        reset_state = jax.tree_util.tree_map(lambda h: 0.3 - 0.7 * h, h0)
    (_, got), got_grads = _solve_and_grad(
        cell, h0, xs, reset_state, jnp.asarray(resets), SOLVERS[solver_name]
    )
    (_, want), want_grads = _value_and_grad(
        lambda c, h, x, r: segment_states(c, h, x, resets, r), cell, h0, xs, reset_state
    )
    assert tree_max_abs_diff(got, want) < 1e-9
    assert tree_max_abs_diff(got_grads, want_grads) < 1e-8
    # The resets matter: the same solve without them differs.
    assert tree_max_abs_diff(got, reference_states(cell, h0, xs)) > 1e-3


@eqx.filter_jit
def _masked_scan_and_grad(cell, h0, xs, resets):
    """A hand-written `lax.scan` that restarts where `resets` holds (one compilation for any
    reset positions), and its autodiff gradient."""

    def states(cell, h0, xs):
        def step(h, x_r):
            x, r = x_r
            h = cell(jnp.where(r, h0, h), x)
            return h, h

        return jax.lax.scan(step, h0, (xs, resets))[1]

    return _value_and_grad(lambda c, h, x, _: states(c, h, x), cell, h0, xs, None)


@settings(max_examples=15, deadline=None)
@given(resets=hnp.arrays(np.bool_, T))
def test_any_reset_positions(resets):
    cell, h0, xs = make_problem("gru", length=T)
    resets = jnp.asarray(resets)
    (_, got), got_grads = _solve_and_grad(cell, h0, xs, None, resets, SOLVERS["deer"])
    (_, want), want_grads = _masked_scan_and_grad(cell, h0, xs, resets)
    assert tree_max_abs_diff(got, want) < 1e-9
    assert tree_max_abs_diff(got_grads, want_grads) < 1e-8


def test_resets_in_a_batch_and_under_jit():
    cell, h0, xs = make_problem("gru", length=T)
    batch_resets = np.zeros((3, T), bool)
    batch_resets[1, 5] = batch_resets[2, [2, 7]] = True

    @jax.jit
    def solve(xs, resets):
        return paratime.unroll(cell, h0, xs, solver=paratime.DEER(), resets=resets).states

    got = jax.vmap(solve, in_axes=(None, 0))(xs, jnp.asarray(batch_resets))
    for i, resets in enumerate(batch_resets):
        assert tree_max_abs_diff(got[i], segment_states(cell, h0, xs, resets)) < 1e-9


def test_the_jacobian_keeps_the_cells_structure_and_is_cut_at_resets(getkey):
    cell = cells.DiagonalGRU(2, 4, key=getkey())
    h, x = jnp.ones(4), jnp.ones(2)
    wrapped = ResetCell(cell, jnp.zeros(4))
    assert wrapped.jacobian_structure == cell.jacobian_structure == paratime.structures.Diagonal()
    value, jac = wrapped.value_and_jacobian(h, (x, jnp.array(False)))
    want_value, want_jac = cell.value_and_jacobian(h, x)
    assert tree_max_abs_diff((value, jac), (want_value, want_jac)) == 0
    value, jac = wrapped.value_and_jacobian(h, (x, jnp.array(True)))
    assert tree_max_abs_diff(value, cell(jnp.zeros(4), x)) == 0
    assert not jnp.any(jac)
    _, diag = wrapped.value_and_jacobian_diagonal(h, (x, jnp.array(True)))
    assert diag.shape == (4,) and not jnp.any(diag)


def test_a_linear_cell_stays_linear(getkey):
    cell, h0, xs = make_problem("mingru", length=T)
    solver = paratime.Auto().select(ResetLinearCell(cell, h0), T, h0.shape[0])
    assert isinstance(solver, LinearScan)


def test_bad_resets_are_named():
    cell, h0, xs = make_problem("gru", length=T)
    with pytest.raises(ValueError, match="`resets` must be a boolean array of shape"):
        paratime.unroll(cell, h0, xs, resets=np.zeros(T - 1, bool))
    with pytest.raises(TypeError, match="`resets` must be a boolean array.*float"):
        paratime.unroll(cell, h0, xs, resets=np.zeros(T))
    with pytest.raises(ValueError, match="`reset_state` must have the structure"):
        paratime.unroll(cell, h0, xs, resets=RESETS, reset_state=jnp.zeros(2))


def test_resets_lower_for_cuda():
    cell, h0, xs = make_problem("gru", length=T)

    def loss(cell, h0, xs, resets):
        sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), resets=resets, throw=False)
        return jnp.sum(sol.states**2)

    def grad(cell, h0, xs, resets):
        return eqx.filter_grad(loss)(cell, h0, xs, resets)

    for f in (loss, grad):
        with paratime.for_platform("cuda"):
            lowered = jax.jit(f).trace(cell, h0, xs, jnp.asarray(RESETS))
            text = lowered.lower(lowering_platforms=("cuda",)).as_text()
        assert "callback" not in text
