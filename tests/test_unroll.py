"""`paratime.unroll`: every solver on every cell matches the sequential scan.

This module also holds the shared problem set (`make_problem`, `SOLVERS`, `CASES`) and the
cached float64 solve-and-differentiate (`solve_and_grad`) that `test_gradients.py` reuses, so
that each (solver, cell) pair is compiled once for both forward and gradient checks.
"""

import functools as ft

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import paratime
from helpers import tree_max_abs_diff
from paratime import cells
from paratime._engine._solver import LinearScan

T = 8
D = 2
HIDDEN = 3

SOLVERS = {
    "sequential": paratime.Sequential(),
    "deer": paratime.DEER(),
    "quasideer": paratime.QuasiDEER(),
    "elk": paratime.ELK(),
    "elk_diagonal": paratime.ELK(diagonal=True),
    "deer_chunked": paratime.DEER(recurrence=paratime.recurrences.Chunked(3)),
    "auto": paratime.Auto(),
    "linear_scan": LinearScan(),
}
CELL_NAMES = ["elman", "gru", "lstm", "mingru", "lru"]
LINEAR_CELLS = {"mingru", "lru"}
USER_CELLS = ["user_module", "user_closure"]  # cells defined only in this file
CASES = [
    (s, c)
    for s in SOLVERS
    for c in CELL_NAMES + USER_CELLS
    if s != "linear_scan" or c in LINEAR_CELLS
]


def make_cell(name: str, dtype, key):
    if name == "elman":
        return cells.Elman(D, HIDDEN, key=key, weight_scale=0.5, dtype=dtype)
    return {"gru": cells.GRU, "lstm": cells.LSTM, "mingru": cells.MinGRU, "lru": cells.LRU}[name](
        D, HIDDEN, key=key, dtype=dtype
    )


class UserCell(eqx.Module):
    """A cell that exists only here: a plain module, not a paratime `AbstractCell`.

    Its state is a PyTree (a dict) and its input is a PyTree (a tuple).
    """

    w: jax.Array
    u: jax.Array

    def __call__(self, h, x):
        drive, gain = x
        a = jnp.tanh(self.w @ h["a"] + self.u * drive + 0.1 * h["b"])
        b = 0.5 * h["b"] + gain * jnp.sin(h["a"][:1])
        return {"a": a, "b": b}


def user_problem(length: int = T):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(7), 4)
    cell = UserCell(0.4 * jax.random.normal(k1, (3, 3)), jax.random.normal(k2, (3,)))
    h0 = {"a": jnp.array([0.1, -0.2, 0.3]), "b": jnp.array([0.5])}
    xs = (jax.random.normal(k3, (length,)), jax.random.uniform(k4, (length,)))
    return cell, h0, xs


def closure_problem(length: int = T):
    w = 0.4 * jax.random.normal(jax.random.key(3), (4, 4))

    def cell(h, x):
        return jnp.tanh(w @ h + x)

    return cell, jnp.linspace(-0.5, 0.5, 4), jax.random.normal(jax.random.key(4), (length, 4))


def make_problem(name: str, dtype=jnp.float64, length: int = T, seed: int = 0):
    """A contractive cell, a non-zero initial state and inputs of the given dtype."""
    if name == "user_module":
        return user_problem(length)
    if name == "user_closure":
        return closure_problem(length)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    cell = make_cell(name, dtype, k1)
    h = 0.5 * jax.random.normal(k2, (2, HIDDEN), dtype)
    if name == "lstm":
        h0 = (h[0], h[1])
    elif name == "lru":
        h0 = jax.lax.complex(h[0], h[1])
    else:
        h0 = h[0]
    xs = jax.random.normal(k3, (length, D), dtype)
    return cell, h0, xs


def reference_states(cell, h0, xs):
    """The trajectory by a hand-written `lax.scan` (independent of paratime's solvers)."""

    def step(h, x):
        h = cell(h, x)
        return h, h

    return jax.lax.scan(step, h0, xs)[1]


def loss_of_states(states, length: int = T):
    """A loss that weights every state component differently; real for complex states."""
    total = 0.0
    for i, s in enumerate(jax.tree_util.tree_leaves(states)):
        w = jnp.cos(jnp.arange(s.size, dtype=jnp.abs(s).dtype).reshape(s.shape) + i)
        total = total + jnp.sum(w * jnp.real(s)) + 0.5 * jnp.sum(jnp.abs(s) ** 2)
    return total


@eqx.filter_jit
def _value_and_grad_all(problems, solver):
    """For each problem: ((loss, states), grads w.r.t. (cell, h0, xs)), in one program."""

    def loss(args):
        states = (
            reference_states(*args)
            if solver is None
            else paratime.unroll(*args, solver=solver).states
        )
        return loss_of_states(states), states

    return [eqx.filter_value_and_grad(loss, has_aux=True)(args) for args in problems]


@ft.cache
def _solve_and_grad_all(solver_name: str):
    names = [c for s, c in CASES if s == solver_name]
    problems = [make_problem(c) for c in names]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            paratime._engine._recurrences, "default_recurrence", paratime.recurrences.Associative
        )
        got = _value_and_grad_all(problems, SOLVERS[solver_name])
    return dict(zip(names, zip(got, _value_and_grad_all(problems, None))))


def solve_and_grad(solver_name: str, cell_name: str):
    """float64: ((loss, states), grads w.r.t. (cell, h0, xs)) for a solver and for `lax.scan`.

    All cells of one solver are compiled as one program (it compiles faster than one program
    per cell), and the results are cached for `test_gradients.py`. Linear recurrences inside
    the solvers are forced onto the associative (parallel) scan here, so that the GPU code
    path is what is checked; the float32 tests use the default.
    """
    return _solve_and_grad_all(solver_name)[cell_name]


@pytest.mark.parametrize("solver_name,cell_name", CASES)
def test_float64_matches_sequential(solver_name, cell_name):
    ((loss, states), _), ((ref_loss, ref_states), _) = solve_and_grad(solver_name, cell_name)
    assert jax.tree_util.tree_structure(states) == jax.tree_util.tree_structure(ref_states)
    assert tree_max_abs_diff(states, ref_states) < 1e-10
    assert abs(float(loss - ref_loss)) < 1e-9


@pytest.mark.parametrize("solver_name", SOLVERS)
def test_float32_matches_sequential(solver_name):
    """Every shipped cell in float32 (compiled together, one program per solver)."""
    names = [c for c in CELL_NAMES if solver_name != "linear_scan" or c in LINEAR_CELLS]
    problems = [make_problem(c, jnp.float32) for c in names]
    solver = SOLVERS[solver_name]

    @eqx.filter_jit
    def solve_all(problems):
        sols = [paratime.unroll(*p, solver=solver, throw=False) for p in problems]
        return [s.states for s in sols], [s.result._value for s in sols]

    all_states, codes = solve_all(problems)
    for name, problem, states, code in zip(names, problems, all_states, codes):
        ref = reference_states(*problem)
        assert int(code) == 0, name
        for leaf, ref_leaf in zip(
            jax.tree_util.tree_leaves(states), jax.tree_util.tree_leaves(ref)
        ):
            assert leaf.dtype == ref_leaf.dtype and leaf.shape == ref_leaf.shape, name
        assert tree_max_abs_diff(states, ref) < 1e-5, name


def test_solution_fields(getkey):
    cell, h0, xs = make_problem("lstm")
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
    assert isinstance(sol, paratime.Solution)
    assert isinstance(sol.states, tuple) and [s.shape for s in sol.states] == [(T, HIDDEN)] * 2
    assert sol.result == paratime.RESULTS.successful
    assert 1 <= int(sol.num_steps) == int(sol.stats["num_steps"]) <= 100
    assert 0 <= float(sol.stats["residual"]) < 1e-10
    seq = paratime.unroll(cell, h0, xs, solver=paratime.Sequential())
    assert int(seq.num_steps) == 0 and float(seq.stats["residual"]) == 0


def test_long_sequence_quasideer():
    """T = 100 000: QuasiDEER on a contractive Elman cell equals the scan to 1e-10."""
    cell, h0, xs = make_problem("elman", length=100_000)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.QuasiDEER())
    assert sol.result == paratime.RESULTS.successful
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10


def test_long_sequence_linear_scan_complex():
    cell, h0, xs = make_problem("lru", length=100_000)
    sol = paratime.unroll(cell, h0, xs)  # Auto picks LinearScan for the LRU
    assert jnp.iscomplexobj(sol.states)
    assert tree_max_abs_diff(sol.states, reference_states(cell, h0, xs)) < 1e-10


def test_jit_of_unroll():
    cell, h0, xs = make_problem("gru")

    @eqx.filter_jit
    def run(cell, h0, xs):
        sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER())
        return sol.states, sol.result, sol.stats["num_steps"]

    states, result, steps = run(cell, h0, xs)
    assert result == paratime.RESULTS.successful and int(steps) >= 1
    assert tree_max_abs_diff(states, reference_states(cell, h0, xs)) < 1e-10


@pytest.mark.parametrize("solver_name", ["deer", "quasideer", "elk_diagonal"])
def test_vmap_batches(solver_name):
    cell, _, _ = make_problem("gru")
    B = 3
    h0 = 0.3 * jax.random.normal(jax.random.key(1), (B, HIDDEN))
    # Different lengths of transient per example, so the batched Newton loops end at
    # different iterations.
    xs = jax.random.normal(jax.random.key(2), (B, T, D)) * jnp.array([0.1, 1.0, 3.0])[:, None, None]
    solver = SOLVERS[solver_name]
    states = jax.vmap(lambda h, x: paratime.unroll(cell, h, x, solver=solver).states)(h0, xs)
    assert states.shape == (B, T, HIDDEN)
    for i in range(B):
        assert tree_max_abs_diff(states[i], reference_states(cell, h0[i], xs[i])) < 1e-10


def test_vmap_over_cells():
    """Batching over the parameters of a cell (an ensemble) works too."""
    cell, h0, xs = make_problem("elman")
    ensemble = jax.vmap(lambda k: make_cell("elman", jnp.float64, k))(
        jax.random.split(jax.random.key(5), 2)
    )
    states = eqx.filter_vmap(lambda c: paratime.unroll(c, h0, xs, solver=paratime.DEER()).states)(
        ensemble
    )
    for i in range(2):
        member = jax.tree_util.tree_map(lambda p: p[i], ensemble)
        assert tree_max_abs_diff(states[i], reference_states(member, h0, xs)) < 1e-10


@pytest.mark.parametrize("solver_name", ["deer", "quasideer", "elk_diagonal"])
def test_warm_start_from_the_solution(solver_name):
    cell, h0, xs = make_problem("gru")
    exact = reference_states(cell, h0, xs)
    sol = paratime.unroll(cell, h0, xs, solver=SOLVERS[solver_name], guess=exact)
    assert int(sol.num_steps) == 0
    assert tree_max_abs_diff(sol.states, exact) < 1e-12
    near = paratime.unroll(cell, h0, xs, solver=SOLVERS[solver_name], guess=exact + 1e-4)
    cold = paratime.unroll(cell, h0, xs, solver=SOLVERS[solver_name])
    if solver_name == "elk_diagonal":  # damping starts afresh, so no fewer iterations
        assert int(near.num_steps) <= int(cold.num_steps)
    else:
        assert int(near.num_steps) < int(cold.num_steps)
    assert tree_max_abs_diff(near.states, exact) < 1e-10


def test_warm_start_pytree_state():
    cell, h0, xs = make_problem("lstm")
    exact = reference_states(cell, h0, xs)
    sol = paratime.unroll(cell, h0, xs, solver=paratime.DEER(), guess=exact)
    assert int(sol.num_steps) == 0
    assert tree_max_abs_diff(sol.states, exact) < 1e-12


def test_single_step_sequence():
    cell, h0, xs = make_problem("gru", length=1)
    for name in ("deer", "quasideer", "deer_chunked", "elk_diagonal"):
        sol = paratime.unroll(cell, h0, xs, solver=SOLVERS[name])
        np.testing.assert_allclose(sol.states[0], cell(h0, xs[0]), rtol=1e-12, atol=1e-12)
